// Prometheus's own linter for /metrics: `promtool check metrics`, installed by test/services/prometheus.sh when missing.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { repo } from './sandbox-process.js';

const ensureScript = path.join(repo, 'test/services/prometheus.sh');

function promtoolOnPath(): boolean {
  return spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined;
}

/** Makes sure promtool is on PATH (an apt-get install on a fresh machine: give the caller minutes), or throws saying how to fix it. */
export function ensurePromtool(): void {
  if (promtoolOnPath()) return;
  try {
    execFileSync('sh', [ensureScript, 'ensure'], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    throw new Error(
      `promtool is not on PATH and ${ensureScript} could not install it (${String(err)}). ` +
        "Fix: install Debian's prometheus package (apt-get install prometheus) or put promtool on PATH",
      { cause: err },
    );
  }
  if (!promtoolOnPath())
    throw new Error(`${ensureScript} ensure succeeded but promtool is still not on PATH: put it on PATH`);
}

/** Runs `promtool check metrics` on an exposition: its exit status and everything it printed. */
export function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
