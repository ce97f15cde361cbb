/**
 * Servers written elsewhere in a side-by-side bench: each given as a command line in an environment
 * variable (a JSON object of name → command), run as one program told its port in `PORT`, and
 * waited for until its route answers 200. Shared by full-stack.bench.ts (`BENCH_PEERS`) and
 * http.bench.ts (`BENCH_HELLO_PEERS`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../support/sandbox-ports.js';
import { shellCommand } from './process.js';

const PEER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,39}$/;

/**
 * name → command from `value` (the content of `variable`, named in errors); `reserved` are the bench's
 * own servers' names. Unset or blank gives none; anything malformed is refused with the reason.
 */
export function parsePeers(
  value: string | undefined,
  variable: string,
  reserved: readonly string[],
): Record<string, string> {
  if (value === undefined || value.trim() === '') return {};
  const example = 'e.g. {"myNest":"node /path/to/main.js"}';
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new Error(
      `${variable} is not JSON (${(err as Error).message}): give an object of name → command, ${example}`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error(`${variable} must be a JSON object of name → command, ${example}`);
  const peers: Record<string, string> = {};
  for (const [name, command] of Object.entries(parsed)) {
    if (!PEER_NAME.test(name))
      throw new Error(
        `${variable}: "${name}" is not a server name (a letter, then letters, digits, - or _; 40 at most)`,
      );
    if (reserved.includes(name))
      throw new Error(`${variable}: "${name}" is already one of this bench's servers; give the peer another name`);
    if (typeof command !== 'string' || command.trim() === '')
      throw new Error(`${variable}: the command of "${name}" must be a non-empty string`);
    peers[name] = command.trim();
  }
  return peers;
}

/**
 * The servers a run loads: all of `known` in their order, or those `only` lists (comma-separated, the
 * content of `BENCH_SERVERS`); a name that is not a server is refused, listing the ones there are.
 */
export function selectServers(known: readonly string[], only: string | undefined): string[] {
  if (only === undefined || only.trim() === '') return [...known];
  const wanted = only.split(',').map((n) => n.trim());
  const unknown = wanted.filter((n) => !known.includes(n));
  if (unknown.length > 0)
    throw new Error(`BENCH_SERVERS: no server named ${unknown.join(', ')}; the servers are ${known.join(', ')}`);
  return known.filter((n) => wanted.includes(n));
}

/** A spawned server and why it stopped, if it did. */
export interface Watched {
  readonly child: ChildProcess;
  /** `<label> exited with <code or signal>` once the process has exited, else undefined. */
  exited(): string | undefined;
}

/** Starts watching `child` for its exit (call it right after spawning). */
export function watch(child: ChildProcess, label: string): Watched {
  let reason: string | undefined;
  child.once('exit', (code, signal) => {
    reason = `${label} exited with ${signal ?? code}`;
  });
  return { child, exited: () => reason };
}

/** Whether `body` is JSON with the content of `expected`, the same keys in the same order (spacing aside). */
export function sameJson(body: string, expected: unknown): boolean {
  try {
    return JSON.stringify(JSON.parse(body)) === JSON.stringify(expected);
  } catch {
    return false;
  }
}

/** A server written elsewhere, answering its route. */
export interface Peer {
  readonly child: ChildProcess;
  readonly port: number;
  /** The body of the first 200. */
  readonly body: string;
  /** Spawn → that first 200, in milliseconds. */
  readonly startMs: number;
}

/**
 * Starts a command line written elsewhere (pinned to `cpu` when given, `env` and a free `PORT` added to
 * this process's environment, its output sent to stderr since stdout carries the bench's report) and
 * waits for the first 200 of `path`; a peer that exits or never answers is stopped and refused.
 */
export async function startPeer(
  name: string,
  command: string,
  options: {
    path: string;
    cpu?: number;
    env?: Record<string, string>;
    headers?: Record<string, string>;
    timeoutMs?: number;
  },
): Promise<Peer> {
  const port = await freePort();
  const [file, args] = shellCommand(command, options.cpu);
  const t0 = performance.now();
  const child = spawn(file, args, {
    stdio: ['ignore', process.stderr, 'inherit'],
    env: { ...process.env, ...options.env, PORT: String(port) },
  });
  const server = watch(child, `${name} (${command})`);
  try {
    const url = `http://127.0.0.1:${port}${options.path}`;
    const body = await firstOk(server, url, options.headers ?? {}, options.timeoutMs ?? 30_000);
    return { child, port, body, startMs: performance.now() - t0 };
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
}

/**
 * Requests `url` until it answers 200 and returns that body; refuses at once when the server has
 * exited, and after `timeoutMs` otherwise.
 */
export async function firstOk(
  server: Watched,
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exited = server.exited();
    if (exited) throw new Error(exited);
    const answer = await fetch(url, { headers }).then(
      async (res) => ({ status: res.status, body: await res.text() }),
      () => undefined,
    );
    if (answer?.status === 200) return answer.body;
    if (Date.now() > deadline) throw new Error(`${url}: no 200 within ${timeoutMs} ms (last ${answer?.status})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
