/**
 * The "full stack" route side by side (issue 12): Gantry (as shipped; with revocations read from Redis
 * on every request; with both its caches off; on the express and the fastify engine), NestJS (express
 * platform) and Fastify 5, each doing the same work (see servers/full-common.ts): helmet headers, a
 * per-IP rate limit counted in Redis, an ES256 bearer checked with jose, a revocation lookup in Redis,
 * a permission from the subject's roles, a duration histogram and one async log line.
 *
 * Every server first passes the equivalence check (full-stack.ts), then is loaded by autocannon in
 * alternating rounds (drift hits all alike). Reported per server: req/s, p99, server CPU µs per
 * request (utime+stime from /proc/<pid>/stat over the rounds / requests served: the steadier figure on
 * a shared machine), RSS after load, cold start (spawn → first 200 of the route, median of
 * BENCH_COLD_STARTS), and ratios against Gantry. Redis at BENCH_REDIS_URL (default 127.0.0.1:6379);
 * every key lives under a prefix unique to the run, deleted at the end.
 *
 * Servers written elsewhere join the same run with BENCH_PEERS (a JSON object of name → command line,
 * see peerServers in full-stack.ts): same equivalence check, same load, ratios against Gantry's.
 *
 *   npm run bench:full        # BENCH_DURATION=10 BENCH_ROUNDS=3 BENCH_CONNECTIONS=10 BENCH_PIN=1
 *   BENCH_PEERS='{"myNest":"node /path/to/nest/dist/main.js"}' BENCH_SERVERS=gantry,myNest npm run bench:full
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import {
  benchKey,
  benchTokens,
  checkEquivalence,
  dropPrefix,
  FULL_STACK_SERVERS,
  type FullServer,
  peerServers,
  revokeBenchFamily,
  type ServerSpec,
  startFullServer,
  stopFullServer,
} from './full-stack.js';
import { selectServers } from './peers.js';
import { ROUTE } from './servers/full-common.js';
import { cpuMicros, pinLoadGenerator, rssMb } from './process.js';
import { median } from './stats.js';

const duration = Number(process.env.BENCH_DURATION ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const coldStarts = Number(process.env.BENCH_COLD_STARTS ?? 3);
const specs: Record<string, ServerSpec> = { ...FULL_STACK_SERVERS, ...peerServers() };
const names = selectServers(Object.keys(specs), process.env.BENCH_SERVERS);
// Server on CPU 1, load generator on CPU 0 (as in the figures), when there are two CPUs.
const serverCpu = pinLoadGenerator();

interface Round {
  rps: number;
  p99: number;
  requests: number;
  cpuUs: number;
}

async function load(server: FullServer, token: string, seconds: number): Promise<Round> {
  const pid = server.child.pid!;
  const cpu0 = cpuMicros(pid);
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}${ROUTE}`,
    headers: { authorization: `Bearer ${token}` },
    connections,
    duration: seconds,
    pipelining: 1,
  });
  const cpuUs = cpuMicros(pid) - cpu0;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${server.name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p99: result.latency.p99, requests: result.requests.total, cpuUs };
}

const redis = new Redis(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const run = `gantry-bench:${randomUUID().slice(0, 8)}:`;
const key = benchKey();
const tokens = await benchTokens(key);
const servers: FullServer[] = [];
try {
  // Cold starts first, one server at a time, nothing else running.
  const cold: Record<string, number[]> = {};
  for (const name of names) {
    cold[name] = [];
    for (let i = 0; i < coldStarts; i++) {
      const server = await startFullServer(name, {
        key,
        token: tokens.good,
        prefix: `${run}${name}:cold:`,
        cpu: serverCpu,
        spec: specs[name],
      });
      cold[name].push(server.coldStartMs);
      await stopFullServer(server);
    }
  }
  for (const name of names) {
    const prefix = `${run}${name}:`;
    await revokeBenchFamily(redis, prefix);
    const server = await startFullServer(name, { key, token: tokens.good, prefix, cpu: serverCpu, spec: specs[name] });
    servers.push(server);
    const problems = await checkEquivalence(server.port, tokens);
    if (problems.length > 0) throw new Error(`${name} does not answer like the others:\n  ${problems.join('\n  ')}`);
  }
  for (const server of servers) await load(server, tokens.good, 3); // warm-up
  const samples: Record<string, Round[]> = Object.fromEntries(servers.map((s) => [s.name, []]));
  for (let i = 0; i < rounds; i++)
    for (const server of servers) samples[server.name]!.push(await load(server, tokens.good, duration));
  const figures = Object.fromEntries(
    servers.map((server) => {
      const list = samples[server.name]!;
      const requests = list.reduce((n, r) => n + r.requests, 0);
      const cpu = list.reduce((n, r) => n + r.cpuUs, 0);
      return [
        server.name,
        {
          rps: Math.round(median(list.map((r) => r.rps))),
          p99Ms: median(list.map((r) => r.p99)),
          cpuUsPerRequest: Math.round((cpu / requests) * 10) / 10,
          rssAfterLoadMb: rssMb(server.child.pid!),
          coldStartMs: Math.round(median(cold[server.name]!)),
          roundsRps: list.map((r) => Math.round(r.rps)),
        },
      ];
    }),
  ) as Record<
    string,
    {
      rps: number;
      p99Ms: number;
      cpuUsPerRequest: number;
      rssAfterLoadMb: number;
      coldStartMs: number;
      roundsRps: number[];
    }
  >;
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  const ratios = (base: string) =>
    Object.fromEntries(
      Object.entries(figures)
        .filter(([name]) => name !== base && figures[base])
        .map(([name, f]) => {
          const b = figures[base]!;
          return [
            `${base}/${name}`,
            {
              throughput: r2(b.rps / f.rps),
              cpuPerRequest: r2(b.cpuUsPerRequest / f.cpuUsPerRequest),
              rss: r2(b.rssAfterLoadMb / f.rssAfterLoadMb),
              coldStart: r2(b.coldStartMs / f.coldStartMs),
            },
          ];
        }),
    );
  const report = {
    node: process.version,
    cpus: os.cpus().length,
    loadavg: os.loadavg().map((x) => r2(x)),
    pinned: serverCpu !== undefined,
    connections,
    duration,
    rounds,
    figures,
    ratios: {
      ...ratios('gantry'),
      ...ratios('gantryLookup'),
      ...ratios('gantryNoCache'),
      ...ratios('gantryFastify'),
      ...ratios('gantryFastifyNoCache'),
    },
  };
  console.log(JSON.stringify(report, null, 2));
  console.log('\n| server | req/s | p99 ms | CPU µs/req | RSS after load MB | cold start ms |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, f] of Object.entries(figures))
    console.log(`| ${name} | ${f.rps} | ${f.p99Ms} | ${f.cpuUsPerRequest} | ${f.rssAfterLoadMb} | ${f.coldStartMs} |`);
} finally {
  for (const server of servers) await stopFullServer(server);
  await dropPrefix(redis, run);
  redis.disconnect();
}
