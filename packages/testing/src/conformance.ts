import { KERNEL_VERSION, pluginMetadataProblems, type Plugin } from '@gantry/core';
import semver from 'semver';
import { z } from 'zod';
import { ResourceTracker, summarize } from './resource-tracker.js';
import { createTestKernel, type TestKernel } from './test-kernel.js';

/** What to check a plugin with. */
export interface ConformanceOptions {
  readonly plugin: Plugin;
  /** Plugins it needs enabled beside it (its dependencies). */
  readonly with?: readonly Plugin[];
  /** Options per plugin name. */
  readonly config?: Readonly<Record<string, Record<string, unknown>>>;
  /** The plugin must boot (register + start) within this time. Default 10 s. */
  readonly bootTimeoutMs?: number;
  readonly appDir?: string;
}

/** One check's outcome. */
export interface ConformanceResult {
  readonly check: string;
  readonly ok: boolean;
  readonly message: string;
}

const WATCHED_EVENTS = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'exit',
  'beforeExit',
  'uncaughtException',
  'unhandledRejection',
  'warning',
] as const;

/**
 * Runs the plugin conformance checks: valid metadata, documented config schema, boots within its
 * timeout, registers a health check that is not down, stops cleanly, leaves no handle, listener or
 * global behind, and runs twice side by side in one process (no shared state).
 */
export async function checkConformance(options: ConformanceOptions): Promise<ConformanceResult[]> {
  const { plugin } = options;
  const results: ConformanceResult[] = [];
  const add = (check: string, ok: boolean, message: string): void => void results.push({ check, ok, message });

  const meta = pluginMetadataProblems(plugin);
  add('metadata', meta.length === 0, meta.length ? meta.join('; ') : 'name, version, kernel range and lists are valid');
  const inRange = semver.satisfies(KERNEL_VERSION, plugin.kernel);
  add(
    'kernel-range',
    inRange,
    inRange
      ? `kernel ${KERNEL_VERSION} satisfies ${plugin.kernel}`
      : `kernel ${KERNEL_VERSION} does not satisfy ${plugin.kernel}`,
  );

  if (plugin.config) {
    const shape = plugin.config instanceof z.ZodObject ? (plugin.config.shape as Record<string, z.ZodType>) : undefined;
    const undocumented = shape
      ? Object.entries(shape)
          .filter(([, s]) => !s.description)
          .map(([k]) => k)
      : [];
    add(
      'config-documented',
      shape !== undefined && undocumented.length === 0,
      !shape
        ? 'config schema must be a z.object'
        : undocumented.length
          ? `options without .describe(): ${undocumented.join(', ')}`
          : `${Object.keys(shape).length} options, all described`,
    );
  } else add('config-documented', true, 'takes no options');

  const globalsBefore = new Set(Object.keys(globalThis));
  const listenersBefore = WATCHED_EVENTS.map((e) => process.listenerCount(e));
  // Exactly what the kernels (and so the plugin) create, from build to stop: not a count of the
  // process's handles, which other code opens and closes at the same time.
  const tracker = new ResourceTracker();
  const booted = await tracker.track(() => bootAndStop(options, add));
  if (!booted) {
    tracker.dispose();
    return results;
  }
  const leaked = await tracker.leftAlive(1_000);
  add(
    'no-leaked-handles',
    leaked.length === 0,
    leaked.length
      ? `still open after stop: ${summarize(leaked)} (created at ${[...new Set(leaked.map((r) => r.createdAt))].join('; ')})`
      : 'no handle left open',
  );
  const newGlobals = Object.keys(globalThis).filter((k) => !globalsBefore.has(k));
  const listenerDiff = WATCHED_EVENTS.filter((e, i) => process.listenerCount(e) !== listenersBefore[i]);
  const clean = newGlobals.length === 0 && listenerDiff.length === 0;
  add(
    'no-global-state',
    clean,
    clean
      ? 'no new globals, no process listeners left'
      : [
          newGlobals.length ? `new globals: ${newGlobals.join(', ')}` : '',
          listenerDiff.length ? `process listeners changed: ${listenerDiff.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; '),
  );
  return results;
}

/** Boots the plugin, checks health and isolation, and stops it; false when it did not boot. */
async function bootAndStop(
  options: ConformanceOptions,
  add: (check: string, ok: boolean, message: string) => void,
): Promise<boolean> {
  const { plugin } = options;
  const deps = options.with ?? [];
  const limit = options.bootTimeoutMs ?? 10_000;
  // Hooks get the same limit: a plugin hanging in start is then cut by the kernel too, so the
  // stop that follows does not wait (or keep a timer) for the kernel's default hook timeout.
  const build = (): Promise<TestKernel> =>
    createTestKernel({
      plugins: [...deps, plugin],
      config: options.config,
      appDir: options.appDir,
      start: false,
      kernel: { hookTimeoutMs: limit },
    });

  let tk: TestKernel | undefined;
  try {
    tk = await build();
    const t0 = performance.now();
    await withLimit(tk.start(), limit, `did not boot within ${limit} ms`);
    const ms = Math.round(performance.now() - t0);
    add('boots', true, `booted in ${ms} ms (limit ${limit} ms)`);
  } catch (err) {
    add('boots', false, (err as Error).message);
    await tk?.stop().catch(() => undefined);
    return false;
  }

  const checks = tk.kernel.health.byPlugin(plugin.name);
  add(
    'health-check',
    checks.length > 0,
    checks.length
      ? `registers ${checks.map((c) => c.name).join(', ')}`
      : 'registers no readiness check: call ctx.health.check(...) in register()',
  );
  const report = await tk.kernel.health.readiness();
  const down = Object.entries(report.checks).filter(([, r]) => r.plugin === plugin.name && r.status === 'down');
  add(
    'ready',
    down.length === 0,
    down.length
      ? `checks down after start: ${down.map(([n, r]) => `${n} (${r.error ?? 'down'})`).join(', ')}`
      : 'its checks are up after start',
  );

  // Two instances at once: a plugin that keeps state in module scope or a global registry fails here.
  let second: TestKernel | undefined;
  try {
    second = await build();
    await withLimit(second.start(), limit, `a second kernel did not boot within ${limit} ms`);
    await second.stop();
    add('isolated', true, 'a second kernel booted and stopped beside the first');
  } catch (err) {
    await second?.stop().catch(() => undefined);
    add('isolated', false, `a second kernel in the same process failed: ${(err as Error).message}`);
  }

  try {
    await withLimit(tk.stop(), limit, `did not stop within ${limit} ms`);
    add('stops', true, 'stopped cleanly');
  } catch (err) {
    add('stops', false, (err as Error).message);
  }
  return true;
}

async function withLimit<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
