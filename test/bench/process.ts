/**
 * Process plumbing shared by the benchmarks: pinning the load generator and the servers to separate
 * cores, and reading a server's CPU time and memory from /proc.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * Pins this process (the load generator) to CPU 0 when there are two CPUs and BENCH_PIN is not `0`,
 * and returns the core the servers are to run on (1, through {@link nodeCommand}), as in the issue's
 * figures; undefined when not pinning.
 */
export function pinLoadGenerator(): number | undefined {
  if (process.env.BENCH_PIN === '0' || os.cpus().length < 2) return undefined;
  execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  return 1;
}

/**
 * `node …args` as a spawn command, run through `taskset -c cpu` when `cpu` is given. taskset execs
 * node, so the child's pid is the server's own: {@link cpuMicros} and {@link rssMb} read the server.
 */
export function nodeCommand(args: readonly string[], cpu?: number): [string, string[]] {
  return cpu === undefined
    ? [process.execPath, [...args]]
    : ['taskset', ['-c', String(cpu), process.execPath, ...args]];
}

/**
 * Spawns one of the bench's own server scripts (`file`, pinned to `cpu` when given, `env` added) and
 * resolves with the process and the first line it prints (its port, or a JSON object holding it);
 * refuses, naming `label`, when it exits first. These servers pick a free port themselves: a `PORT`
 * inherited from the caller's shell is removed.
 */
export async function spawnScript(
  file: string,
  label: string,
  env: Readonly<Record<string, string>>,
  cpu?: number,
): Promise<{ child: ChildProcess; firstLine: string }> {
  const [command, args] = nodeCommand([file], cpu);
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env, PORT: undefined },
  });
  const firstLine = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${label} exited with ${signal ?? code}`)));
    child.stdout!.once('data', (d: Buffer) => resolve(String(d).trim()));
  });
  return { child, firstLine };
}

/**
 * A command line written elsewhere (a peer server: `node dist/main.js`, a binary) as a spawn command:
 * `sh -c 'exec …'`, through `taskset -c cpu` when `cpu` is given. Both exec, so the child's pid is the
 * program's own and {@link cpuMicros} and {@link rssMb} read it (one process: workers it would fork are
 * not counted).
 */
export function shellCommand(command: string, cpu?: number): [string, string[]] {
  const sh = ['sh', '-c', `exec ${command}`];
  return cpu === undefined ? [sh[0]!, sh.slice(1)] : ['taskset', ['-c', String(cpu), ...sh]];
}

/** utime + stime of a process in microseconds (from /proc/<pid>/stat; clock ticks of 10 ms). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, utime field 14 and stime field 15 (1-based in proc(5)).
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** Resident set size of a process in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 102.4) / 10;
}
