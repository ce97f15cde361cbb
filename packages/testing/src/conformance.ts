import { KERNEL_VERSION, pluginMetadataProblems, type Plugin } from '@gantry/core';
import semver from 'semver';
import { z } from 'zod';
import { ResourceTracker, type OpenResource } from './resource-tracker.js';
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

/**
 * How long handles may take to close after stop before they count as leaked. Waiting ends as soon as
 * the last one closes, so only a real leak costs the whole second.
 */
const SETTLE_MS = 1_000;

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
  // Process listeners added or removed by the check's kernels (the tracker's context), not by the rest
  // of the process: another test file's kernel finishing its shutdown meanwhile must not count.
  const listenerBalance = new Map<string | symbol, number>();
  const watched = new Set<string | symbol>(WATCHED_EVENTS);
  const onListenerChange =
    (delta: number) =>
    (event: string | symbol): void => {
      if (watched.has(event) && tracker.inside()) listenerBalance.set(event, (listenerBalance.get(event) ?? 0) + delta);
    };
  const onNewListener = onListenerChange(1);
  const onRemoveListener = onListenerChange(-1);
  // Every kernel call runs inside `tracker.run`: what the plugin, its dependencies and the kernel create
  // there (and in its async descendants) is followed until it closes; the rest of the process is not
  // looked at, so a test runner's timer or another test's server can neither hide a leak nor fake one.
  const tracker = new ResourceTracker();
  process.on('newListener', onNewListener);
  process.on('removeListener', onRemoveListener);
  try {
    const deps = options.with ?? [];
    const limit = options.bootTimeoutMs ?? 10_000;
    // Hooks get the same limit: a plugin hanging in start is then cut by the kernel too, so the
    // stop that follows does not wait (or keep a timer) for the kernel's default hook timeout.
    const build = (): Promise<TestKernel> =>
      tracker.run(() =>
        createTestKernel({
          plugins: [...deps, plugin],
          config: options.config,
          appDir: options.appDir,
          start: false,
          kernel: { hookTimeoutMs: limit },
        }),
      );
    // The limit's timer is the kit's, created outside the tracked call.
    const call = <T>(fn: () => Promise<T>, message: string): Promise<T> => withLimit(tracker.run(fn), limit, message);

    let tk: TestKernel | undefined;
    try {
      tk = await build();
      const t0 = performance.now();
      await call(() => tk!.start(), `did not boot within ${limit} ms`);
      const ms = Math.round(performance.now() - t0);
      add('boots', true, `booted in ${ms} ms (limit ${limit} ms)`);
    } catch (err) {
      add('boots', false, (err as Error).message);
      await tracker.run(() => tk?.stop())?.catch(() => undefined);
      return results;
    }

    const checks = tk.kernel.health.byPlugin(plugin.name);
    const noCheck = 'registers no readiness check: call ctx.health.check(...) in register()';
    add(
      'health-check',
      checks.length > 0,
      checks.length ? `registers ${checks.map((c) => c.name).join(', ')}` : noCheck,
    );
    // Readiness runs the plugin's checks: what they open is the plugin's too.
    const report = await tracker.run(() => tk.kernel.health.readiness());
    const down = Object.entries(report.checks).filter(([, r]) => r.plugin === plugin.name && r.status === 'down');
    const downList = down.map(([n, r]) => `${n} (${r.error ?? 'down'})`).join(', ');
    add(
      'ready',
      down.length === 0,
      down.length ? `checks down after start: ${downList}` : 'its checks are up after start',
    );

    // Two instances at once: a plugin that keeps state in module scope or a global registry fails here.
    let second: TestKernel | undefined;
    try {
      second = await build();
      await call(() => second!.start(), `a second kernel did not boot within ${limit} ms`);
      await tracker.run(() => second!.stop());
      add('isolated', true, 'a second kernel booted and stopped beside the first');
    } catch (err) {
      await tracker.run(() => second?.stop())?.catch(() => undefined);
      add('isolated', false, `a second kernel in the same process failed: ${(err as Error).message}`);
    }

    try {
      await call(() => tk.stop(), `did not stop within ${limit} ms`);
      add('stops', true, 'stopped cleanly');
    } catch (err) {
      add('stops', false, (err as Error).message);
    }

    const leaked = await tracker.settle(SETTLE_MS);
    add(
      'no-leaked-handles',
      leaked.length === 0,
      leaked.length ? `still open after stop: ${describeOpen(leaked)}` : 'no handle left open',
    );
  } finally {
    process.off('newListener', onNewListener);
    process.off('removeListener', onRemoveListener);
    tracker.dispose();
  }
  const newGlobals = Object.keys(globalThis).filter((k) => !globalsBefore.has(k));
  const listenerDiff = WATCHED_EVENTS.filter((e) => (listenerBalance.get(e) ?? 0) !== 0);
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

/** `2 Timeout created at src/poll.js:12:5; 1 TCPSERVERWRAP`: grouped by type and place of creation. */
function describeOpen(open: readonly OpenResource[]): string {
  const groups = new Map<string, number>();
  for (const r of open) {
    const key = r.createdAt ? `${r.type} created at ${r.createdAt}` : r.type;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].map(([key, n]) => `${n} ${key}`).join('; ');
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
