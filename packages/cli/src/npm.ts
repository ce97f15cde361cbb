import { spawn } from 'node:child_process';
import { CliErrors } from './errors.js';
import { type CliIo, say } from './io.js';

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

/**
 * `npm install` in a folder the CLI just created, on the registry it was created from when one was
 * given; says the command line first and fails with GANTRY_CLI_INSTALL_FAILED on a non-zero exit.
 */
export async function npmInstall(io: CliIo, target: string, registry: string | undefined): Promise<void> {
  const args = ['install', '--no-audit', '--no-fund', ...(registry ? ['--registry', registry] : [])];
  say(io, `Installing dependencies: npm ${args.join(' ')}`);
  const code = await runNpm(io, target, args);
  if (code !== 0) throw CliErrors.INSTALL_FAILED(`npm install exited with code ${code} in ${target}`);
}

/**
 * The `.npmrc` that keeps a new project on the registry it was created from (`--registry`), so a later
 * `npm install` or `npm ci` there resolves the same packages. Refuses what is not an http(s) URL.
 */
export function registryNpmrc(registry: string | undefined): string | undefined {
  if (registry === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(registry);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw CliErrors.USAGE(`--registry "${registry}" is not an http(s) URL`, {
      fix: 'give the registry URL, e.g. --registry http://127.0.0.1:4873',
    });
  return `registry=${url.href}\n`;
}
