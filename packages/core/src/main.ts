import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_FILES } from './config.js';
import { GantryError } from './gantry-error.js';
import { keepMemoryReducerAwake } from './idle-memory.js';
import { createKernel, serializeError, type CreateKernelOptions, type Kernel } from './kernel.js';

/**
 * The entry point of an application: `node main.js` serves; `node main.js <command> [args]` runs a
 * plugin command (e.g. `db:migrate`) without serving. A setup that fails its checks prints every
 * problem to stderr and exits 1 before anything listens.
 */
export async function runMain(
  options: CreateKernelOptions & {
    argv?: readonly string[];
    /**
     * When serving, keep V8's memory reducer working so that the heap a burst of load grew is given
     * back once the process is idle ({@link keepMemoryReducerAwake}; default true).
     */
    idleMemoryReturn?: boolean;
  } = {},
): Promise<Kernel | undefined> {
  const argv = options.argv ?? process.argv.slice(2);
  let kernel: Kernel;
  try {
    kernel = await createKernel({ ...options, appDir: options.appDir ?? appDirOf(process.argv[1]) });
  } catch (err) {
    process.stderr.write(`${formatBootError(err)}\n`);
    process.exitCode = 1;
    return undefined;
  }
  const [command, ...args] = argv;
  if (command) {
    try {
      await kernel.start({ serve: false });
      const code = await kernel.runCommand(command, args);
      await kernel.stop();
      process.exitCode = code;
    } catch (err) {
      process.stderr.write(`${formatBootError(err)}\n`);
      await kernel.stop().catch(() => undefined);
      process.exitCode = 1;
    }
    return kernel;
  }
  const removeSignals = kernel.handleSignals();
  try {
    await kernel.start();
  } catch (err) {
    removeSignals();
    process.stderr.write(`${formatBootError(err)}\n`);
    kernel.logger.flush?.();
    process.exit(1);
  }
  if (options.idleMemoryReturn !== false) keepMemoryReducerAwake();
  return kernel;
}

/**
 * The application's folder for an entry script: the nearest folder above it holding a config file
 * or a package.json, so `node /srv/app/dist/main.js` run from anywhere finds /srv/app's config.
 * Without an entry script (a REPL, `node -e`), the working directory.
 */
export function appDirOf(entry: string | undefined): string {
  if (!entry) return process.cwd();
  let start: string;
  try {
    start = path.dirname(realpathSync(entry));
  } catch {
    return process.cwd();
  }
  for (let dir = start; ; dir = path.dirname(dir)) {
    // The project's root ends the walk: a config file further up belongs to something else.
    if (CONFIG_FILES.some((f) => existsSync(path.join(dir, f))) || existsSync(path.join(dir, 'package.json')))
      return dir;
    if (path.dirname(dir) === dir) return process.cwd();
  }
}

/**
 * Renders a boot error for a terminal: the code, the message (every problem), the fix and causes. A
 * coded cause's own fix is printed under it (the concrete step, e.g. "start PostgreSQL"), unless the
 * same fix was already printed.
 */
export function formatBootError(err: unknown): string {
  if (GantryError.is(err)) {
    const lines = [`[${err.code}] ${err.message}`];
    const fixes = new Set<string>();
    if (err.fix) {
      lines.push(`Fix: ${err.fix}`);
      fixes.add(err.fix);
    }
    let cause = err.cause;
    while (cause instanceof Error) {
      const coded = GantryError.is(cause) ? cause : undefined;
      lines.push(`caused by: ${coded ? `[${coded.code}] ` : ''}${cause.message}`);
      if (coded?.fix && !fixes.has(coded.fix)) {
        lines.push(`  Fix: ${coded.fix}`);
        fixes.add(coded.fix);
      }
      cause = cause.cause;
    }
    return lines.join('\n');
  }
  return `unexpected error during boot: ${JSON.stringify(serializeError(err), null, 2)}`;
}
