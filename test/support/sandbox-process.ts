// The sandbox as a real process on ports of its own, as a newcomer runs it (`npm start`: the bundle
// `scripts/bundle.mjs` makes of dist/src/main.js, which the test scripts build before mocha runs).
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sandboxPorts } from './sandbox-ports.js';

/** The repository's root folder. */
export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The sandbox's entry as `npm start` runs it: its bundle. */
export const bundledMain = path.join(repo, 'sandbox/dist/bundle/main.js');
/** The sandbox's entry as tsc built it, one module per file. */
export const unbundledMain = path.join(repo, 'sandbox/dist/src/main.js');
const main = bundledMain;

/** A running sandbox. */
export interface Sandbox {
  readonly child: ChildProcess;
  readonly base: string;
  /** The sandbox's development OpenID provider (embedded profile). */
  readonly issuer: string;
  stderr(): string;
  readonly exited: Promise<number | null>;
}

/**
 * Starts the sandbox (embedded profile) on free ports, with `env` added, and waits for `waitFor`
 * (default /healthz) to answer 200. `nodeArgs` go before the entry (e.g. `--import` of a preload).
 */
export async function startSandbox(
  env: Record<string, string>,
  ports?: { env: Record<string, string>; base: string; issuer: string },
  options: { nodeArgs?: readonly string[]; waitFor?: string } = {},
): Promise<Sandbox> {
  const { env: portEnv, base, issuer } = ports ?? (await sandboxPorts());
  const waitFor = options.waitFor ?? '/healthz';
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), main], {
    cwd: path.join(repo, 'sandbox'),
    env: { ...process.env, LOG_LEVEL: 'warn', GANTRY_PROFILE: 'embedded', ...env, ...portEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`sandbox exited with ${child.exitCode}: ${err}`);
    try {
      if ((await fetch(base + waitFor)).status === 200) return { child, base, issuer, stderr: () => err, exited };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`sandbox did not answer ${waitFor}: ${err}`);
}

/** Stops a sandbox with SIGTERM and waits for it to exit. */
export async function stopSandbox(app: Sandbox): Promise<void> {
  if (app.child.exitCode === null) {
    app.child.kill('SIGTERM');
    await app.exited;
  }
}
