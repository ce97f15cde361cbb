// Helpers of the @gantry/cli tests: run the CLI in-process with captured output, make app folders
// inside the repository (so generated apps resolve @gantry/* and their tools from its node_modules),
// and run node tools (tsc, mocha) as child processes.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/index.js';

/** The repository root (this file runs from packages/cli/dist/test/). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

/** What a command printed and returned. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `gantry <args>` in-process with `cwd` as the current folder and `env` as the whole environment. */
export async function gantry(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: options.env ?? { PATH: process.env.PATH },
    cwd: options.cwd ?? REPO,
  });
  return { code, stdout, stderr };
}

/** A fresh folder under the repository's .cache/ (git-ignored), removed by `remove()`. */
export function repoTemp(prefix: string): { dir: string; write(rel: string, text: string): string; remove(): void } {
  const base = path.join(REPO, '.cache');
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(path.join(base, `cli-test-${prefix}-`));
  return {
    dir,
    write(rel, text) {
      const file = path.join(dir, rel);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs a node script (this Node.js) as a child process; resolves with its exit code and output. */
export function node(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The repository's TypeScript compiler and mocha, as node scripts. */
export const TSC = path.join(REPO, 'node_modules/typescript/bin/tsc');
export const MOCHA = path.join(REPO, 'node_modules/mocha/bin/mocha.js');

/** A loopback port nothing listens on: bound by the OS, then released. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
