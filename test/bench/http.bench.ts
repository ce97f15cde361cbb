/**
 * Side-by-side benchmarks, each server in its own process, loaded in alternating rounds by
 * autocannon on loopback in one run:
 * - hello: bare express 5 (as shipped, and with its default ETag turned off) vs Gantry's minimal
 *   stack (kernel + http + metrics, one JSON route);
 * - hello on the fastify engine: the same Gantry stack with `http.engine: "fastify"` vs bare fastify 5
 *   (target: at least 0.8x bare fastify), and vs bare fastify sending Gantry's default response headers;
 * (The authenticated "full stack" route against NestJS and Fastify is full-stack.bench.ts.)
 * The sandbox's cold start and memory are startup.bench.ts's (`npm run bench` runs it last), measured
 * as `npm start` runs the sandbox.
 * Servers pinned to CPU 1 and the load generator to CPU 0 when there are two CPUs (BENCH_PIN=0: not),
 * as full-stack.bench.ts and startup.bench.ts run theirs: otherwise every server shares both cores
 * with autocannon, and the ratios measure the scheduler as much as the servers.
 * Hello servers written elsewhere join the comparison with BENCH_HELLO_PEERS, a JSON object of name →
 * command line (`{"theirFastify":"node /path/to/server.js"}`): each is told its port in PORT, must answer
 * `GET /api/v1/hello` with `{"hello":"world"}`, and is loaded in the same rounds (see peers.ts).
 *
 *   npm run bench            # or: BENCH_DURATION=5 BENCH_ROUNDS=2 npm run bench
 */
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { parsePeers, sameJson, startPeer } from './peers.js';
import { cpuMicros, pinLoadGenerator, rssMb, spawnScript } from './process.js';
import { median } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const duration = Number(process.env.BENCH_DURATION ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
// Requests in flight per connection. 1 (the default) is how browsers and most clients talk; each
// request then costs every server a read and a write system call, which on a VM with costly system
// calls outweighs the frameworks' own work and brings their ratios toward 1. With BENCH_PIPELINING=8
// one read and one write serve several requests, and what differs between the servers shows.
const pipelining = Number(process.env.BENCH_PIPELINING ?? 1);
const serverCpu = pinLoadGenerator();

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  /** The server process's CPU time (user + system) per request served: steadier than req/s on a shared VM. */
  cpuUs: number;
  /** The server's CPU time over the round's wall time: near 1 when the server was the limit. */
  busy: number;
}

interface Server {
  child: ChildProcess;
  port: number;
  /** A bearer token the server accepts (authenticated servers print one). */
  token?: string;
}

/** Spawns a server script; it prints its port, or `{"port":…,"token":"…"}`, as its first line. */
async function startServer(script: string, env: Record<string, string> = {}): Promise<Server> {
  const { child, firstLine } = await spawnScript(path.join(here, 'servers', script), script, env, serverCpu);
  const parsed = JSON.parse(firstLine) as number | { port: number; token: string };
  return typeof parsed === 'number' ? { child, port: parsed } : { child, ...parsed };
}

async function load(server: Server, route: string, seconds: number): Promise<Sample> {
  const headers: Record<string, string> = server.token ? { authorization: `Bearer ${server.token}` } : {};
  const cpu0 = cpuMicros(server.child.pid!);
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}${route}`,
    headers,
    connections,
    duration: seconds,
    pipelining,
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`port ${server.port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  const used = cpuMicros(server.child.pid!) - cpu0;
  const cpuUs = used / Math.max(1, result.requests.total);
  const busy = used / (seconds * 1_000_000);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, cpuUs, busy };
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  rounds: number[];
  cpuUsPerRequest: number;
  cpuUsRounds: number[];
  /** Median share of one core the server used while loaded (see {@link Sample.busy}). */
  busy: number;
}

/** Warms every server, then loads them in alternating rounds so drift hits all alike; medians per server. */
async function compare(route: string, servers: Record<string, Server>): Promise<Record<string, Measured>> {
  for (const server of Object.values(servers)) await load(server, route, 3);
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(servers).map((name) => [name, []]));
  for (let i = 0; i < rounds; i++)
    for (const [name, server] of Object.entries(servers)) samples[name]!.push(await load(server, route, duration));
  return Object.fromEntries(
    Object.entries(samples).map(([name, list]) => [
      name,
      {
        rps: Math.round(median(list.map((x) => x.rps))),
        p50: median(list.map((x) => x.p50)),
        p99: median(list.map((x) => x.p99)),
        rounds: list.map((x) => Math.round(x.rps)),
        cpuUsPerRequest: Math.round(median(list.map((x) => x.cpuUs)) * 10) / 10,
        cpuUsRounds: list.map((x) => Math.round(x.cpuUs * 10) / 10),
        busy: Math.round(median(list.map((x) => x.busy)) * 100) / 100,
      },
    ]),
  );
}

const ratio = (a: Measured, b: Measured): number => Math.round((a.rps / b.rps) * 1000) / 1000;
/** Throughput ratio a/b as the servers' CPU per request predicts it (b's CPU per request over a's). */
const cpuRatio = (a: Measured, b: Measured): number =>
  Math.round((b.cpuUsPerRequest / a.cpuUsPerRequest) * 1000) / 1000;

const HELLO_SERVERS = ['express', 'expressNoEtag', 'gantry', 'fastify', 'fastifyHeaders', 'gantryFastify'];
const peers = parsePeers(process.env.BENCH_HELLO_PEERS, 'BENCH_HELLO_PEERS', HELLO_SERVERS);
const HELLO_BODY = { hello: 'world' };

/** A hello server written elsewhere: started with a free PORT, refused unless it answers like the others. */
async function startHelloPeer(name: string, command: string): Promise<Server> {
  const peer = await startPeer(name, command, { path: '/api/v1/hello', cpu: serverCpu });
  if (!sameJson(peer.body, HELLO_BODY)) {
    peer.child.kill('SIGTERM');
    throw new Error(
      `${name} answers ${peer.body.slice(0, 200)} to GET /api/v1/hello, not ${JSON.stringify(HELLO_BODY)}`,
    );
  }
  return { child: peer.child, port: peer.port };
}

const servers: Server[] = [];
const start = async (script: string, env?: Record<string, string>): Promise<Server> => {
  const server = await startServer(script, env);
  servers.push(server);
  return server;
};
try {
  const express = await start('express.js');
  const expressNoEtag = await start('express.js', { BENCH_EXPRESS_ETAG: '0' });
  const gantry = await start('gantry.js');
  const fastify = await start('fastify.js');
  const fastifyHeaders = await start('fastify.js', { BENCH_FASTIFY_HEADERS: '1' });
  const gantryFastify = await start('gantry.js', { BENCH_HTTP_ENGINE: 'fastify' });
  const peerServers: Record<string, Server> = {};
  for (const [name, command] of Object.entries(peers)) {
    const server = await startHelloPeer(name, command);
    servers.push(server);
    peerServers[name] = server;
  }
  const hello = await compare('/api/v1/hello', {
    express,
    gantry,
    expressNoEtag,
    fastify,
    fastifyHeaders,
    gantryFastify,
    ...peerServers,
  });
  const rss = {
    express: rssMb(express.child.pid!),
    gantry: rssMb(gantry.child.pid!),
    fastify: rssMb(fastify.child.pid!),
    gantryFastify: rssMb(gantryFastify.child.pid!),
  };
  const report = {
    node: process.version,
    cpus: os.cpus().length,
    pinned: serverCpu !== undefined,
    connections,
    pipelining,
    duration,
    rounds,
    hello: {
      express: { ...hello.express!, rssAfterLoadMb: rss.express },
      gantry: { ...hello.gantry!, rssAfterLoadMb: rss.gantry },
      expressNoEtag: hello.expressNoEtag!,
      ratio: ratio(hello.gantry!, hello.express!),
      ratioVsExpressNoEtag: ratio(hello.gantry!, hello.expressNoEtag!),
    },
    helloFastifyEngine: {
      fastify: { ...hello.fastify!, rssAfterLoadMb: rss.fastify },
      fastifyHeaders: hello.fastifyHeaders!,
      gantryFastify: { ...hello.gantryFastify!, rssAfterLoadMb: rss.gantryFastify },
      ratio: ratio(hello.gantryFastify!, hello.fastify!),
      ratioVsFastifyHeaders: ratio(hello.gantryFastify!, hello.fastifyHeaders!),
      cpuRatio: cpuRatio(hello.gantryFastify!, hello.fastify!),
      cpuRatioVsFastifyHeaders: cpuRatio(hello.gantryFastify!, hello.fastifyHeaders!),
      cpuRatioVsGantryExpress: cpuRatio(hello.gantryFastify!, hello.gantry!),
      ratioVsGantryExpress: ratio(hello.gantryFastify!, hello.gantry!),
    },
    // Servers written elsewhere (BENCH_HELLO_PEERS), against Gantry on each engine.
    peers: Object.fromEntries(
      Object.entries(peerServers).map(([name, server]) => [
        name,
        {
          ...hello[name]!,
          rssAfterLoadMb: rssMb(server.child.pid!),
          gantryRatio: ratio(hello.gantry!, hello[name]!),
          gantryCpuRatio: cpuRatio(hello.gantry!, hello[name]!),
          gantryFastifyRatio: ratio(hello.gantryFastify!, hello[name]!),
          gantryFastifyCpuRatio: cpuRatio(hello.gantryFastify!, hello[name]!),
        },
      ]),
    ),
  };
  console.log(JSON.stringify(report, null, 2));
  console.log(
    `\nhello: gantry/express throughput ratio ${report.hello.ratio} (${hello.gantry!.rps} vs ${hello.express!.rps} req/s)`,
  );
  console.log(
    `hello: gantry/express (etag off) throughput ratio ${report.hello.ratioVsExpressNoEtag} (${hello.gantry!.rps} vs ${hello.expressNoEtag!.rps} req/s)`,
  );
  console.log(
    `hello: gantry on fastify / bare fastify throughput ratio ${report.helloFastifyEngine.ratio} (${hello.gantryFastify!.rps} vs ${hello.fastify!.rps} req/s; target >= 0.8); by CPU per request ${report.helloFastifyEngine.cpuRatio} (${hello.gantryFastify!.cpuUsPerRequest} vs ${hello.fastify!.cpuUsPerRequest} µs)`,
  );
  console.log(
    `hello: gantry on fastify / bare fastify with Gantry's headers throughput ratio ${report.helloFastifyEngine.ratioVsFastifyHeaders} (${hello.gantryFastify!.rps} vs ${hello.fastifyHeaders!.rps} req/s)`,
  );
  console.log(
    `hello: gantry on fastify / gantry on express throughput ratio ${report.helloFastifyEngine.ratioVsGantryExpress} (${hello.gantryFastify!.rps} vs ${hello.gantry!.rps} req/s)`,
  );
  for (const [name, peer] of Object.entries(report.peers))
    console.log(
      `hello: gantry on fastify / ${name} throughput ratio ${peer.gantryFastifyRatio}, by CPU per request ${peer.gantryFastifyCpuRatio} (${hello.gantryFastify!.cpuUsPerRequest} vs ${peer.cpuUsPerRequest} µs); gantry on express / ${name} ${peer.gantryRatio}, by CPU ${peer.gantryCpuRatio}`,
    );
  // A server that used well under a core was waiting for requests: autocannon (one process) was the
  // limit, every such server sits at the same ceiling, and the ratios above say little about them.
  const idle = Object.entries(hello).filter(([, m]) => m.busy < 0.85);
  if (idle.length > 0)
    console.log(
      `hello: the load generator was the limit for ${idle.map(([name, m]) => `${name} (${Math.round(m.busy * 100)}% of a core)`).join(', ')}: rerun with BENCH_PIPELINING=8 to compare the servers themselves`,
    );
} finally {
  for (const server of servers) server.child.kill('SIGTERM');
}
