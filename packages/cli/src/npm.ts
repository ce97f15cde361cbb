import { spawn } from 'node:child_process';
import type { CliIo } from './io.js';

/**
 * Runs npm with `args` in `cwd`, forwarding its output to the command's streams. Resolves with its
 * exit code. npm is found on the PATH of `io.env`, like a shell would.
 */
export function runNpm(io: CliIo, cwd: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const windows = process.platform === 'win32';
    const child = spawn(windows ? 'npm.cmd' : 'npm', args, {
      cwd,
      env: io.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: windows,
    });
    child.stdout.on('data', (chunk: Buffer) => io.stdout(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => io.stderr(chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}
