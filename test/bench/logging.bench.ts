/**
 * elk-logger's cost on the sandbox's authenticated route (GET /api/v1/notes: bearer token, database
 * read), same run, each server in its own process, loaded in alternating rounds by autocannon:
 * - without: the sandbox as configured (default logger);
 * - with: the sandbox plus elk-logger shipping every line (one access line per request, with request
 *   id, user id, trace id) to a TCP json_lines sink in this process (what Logstash's tcp input reads).
 * - sinkDown: the same as `with`, its sink a closed port (Logstash down): lines are buffered, the oldest
 *   dropped, reconnects retried with backoff; requests must not slow down.
 * Reports req/s, latency and the ratios with/without (target ≥ 0.9) and sinkDown/without, and the lines
 * the sink received.
 *
 *   npm run bench:logging      # or: BENCH_DURATION=5 BENCH_ROUNDS=2 npm run bench:logging
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { median } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const duration = Number(process.env.BENCH_DURATION ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUTE = '/api/v1/notes';

interface Server {
  child: ChildProcess;
  port: number;
  token: string;
}

/** Counts the lines it receives (no parsing: the sink must cost the servers nothing). */
async function startSink(): Promise<{ port: number; lines: () => number; close: () => void }> {
  let lines = 0;
  const server = createServer((socket) => {
    socket.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    lines: () => lines,
    close: () => server.close(),
  };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function startServer(env: Record<string, string>): Promise<Server> {
  const child = fork(path.join(here, 'servers', 'sandbox-logging.js'), [], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const hello = await new Promise<{ port: number; token: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sandbox-logging exited with ${code}`)));
    child.once('message', (m) => resolve(m as { port: number; token: string }));
  });
  return { child, ...hello };
}

async function load(server: Server, seconds: number): Promise<{ rps: number; p50: number; p99: number }> {
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}${ROUTE}`,
    headers: { authorization: `Bearer ${server.token}` },
    connections,
    duration: seconds,
    pipelining: 1,
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`port ${server.port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const sink = await startSink();
const servers: Server[] = [];
try {
  const without = await startServer({});
  servers.push(without);
  const withElk = await startServer({ BENCH_ELK_PORT: String(sink.port) });
  servers.push(withElk);
  const down = await startServer({ BENCH_ELK_PORT: String(await closedPort()) });
  servers.push(down);
  const all = { without, with: withElk, sinkDown: down };
  for (const server of Object.values(all)) await load(server, 3);
  const samples: Record<string, { rps: number; p50: number; p99: number }[]> = { without: [], with: [], sinkDown: [] };
  let requestsWith = 0;
  for (let i = 0; i < rounds; i++)
    for (const [name, server] of Object.entries(all)) {
      const before = sink.lines();
      const s = await load(server, duration);
      samples[name]!.push(s);
      if (name === 'with') requestsWith += sink.lines() - before;
    }
  const summary = Object.fromEntries(
    Object.entries(samples).map(([name, list]) => [
      name,
      {
        rps: Math.round(median(list.map((x) => x.rps))),
        p50: median(list.map((x) => x.p50)),
        p99: median(list.map((x) => x.p99)),
        rounds: list.map((x) => Math.round(x.rps)),
      },
    ]),
  );
  const ratio = Math.round((summary.with!.rps / summary.without!.rps) * 1000) / 1000;
  const ratioSinkDown = Math.round((summary.sinkDown!.rps / summary.without!.rps) * 1000) / 1000;
  const report = {
    node: process.version,
    cpus: os.cpus().length,
    route: ROUTE,
    connections,
    duration,
    rounds,
    without: summary.without,
    with: summary.with,
    sinkDown: summary.sinkDown,
    ratio,
    ratioSinkDown,
    sinkLinesDuringMeasuredRounds: requestsWith,
  };
  console.log(JSON.stringify(report, null, 2));
  console.log(
    `\nelk-logger shipping every request line / without: throughput ratio ${ratio} (${summary.with!.rps} vs ${summary.without!.rps} req/s; target >= 0.9)`,
  );
  console.log(
    `elk-logger with its sink down / without: throughput ratio ${ratioSinkDown} (${summary.sinkDown!.rps} vs ${summary.without!.rps} req/s)`,
  );
} finally {
  for (const server of servers) server.child.kill('SIGTERM');
  sink.close();
}
