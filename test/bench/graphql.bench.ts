/**
 * The current user over GraphQL vs the equivalent REST route, in the same server process, loaded in
 * alternating rounds by autocannon on loopback: `POST /graphql {"query":"{ me { id email name roles } }"}`
 * vs `GET /api/v1/users/me` with the same bearer token (both resolved by the users service).
 *
 *   node test/dist/bench/graphql.bench.js   # BENCH_DURATION=5 BENCH_ROUNDS=3 BENCH_CONNECTIONS=10
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = path.dirname(fileURLToPath(import.meta.url));
const duration = Number(process.env.BENCH_DURATION ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);

const child = spawn(process.execPath, [path.join(here, 'servers', 'gantry-graphql.js')], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const { port, token } = JSON.parse(
  await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    child.stdout!.once('data', (d: Buffer) => resolve(String(d).trim()));
  }),
) as { port: number; token: string };

interface Sample {
  rps: number;
  p50: number;
  p99: number;
}
const targets = {
  rest: { method: 'GET' as const, path: '/api/v1/users/me' },
  graphql: {
    method: 'POST' as const,
    path: '/graphql',
    body: JSON.stringify({ query: '{ me { id email name roles } }' }),
    headers: { 'content-type': 'application/json' },
  },
};

async function load(name: keyof typeof targets, seconds: number): Promise<Sample> {
  const t = targets[name];
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${t.path}`,
    method: t.method,
    headers: { authorization: `Bearer ${token}`, ...('headers' in t ? t.headers : {}) },
    ...('body' in t ? { body: t.body } : {}),
    connections,
    duration: seconds,
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  // Same answer both ways before measuring anything.
  const rest = await (
    await fetch(`http://127.0.0.1:${port}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } })
  ).json();
  const gql = await (
    await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: targets.graphql.body,
    })
  ).json();
  if ((rest as { id: string }).id !== (gql as { data: { me: { id: string } } }).data.me.id)
    throw new Error(`REST and GraphQL disagree: ${JSON.stringify({ rest, gql })}`);
  await load('rest', 2);
  await load('graphql', 2);
  const samples: Record<string, Sample[]> = { rest: [], graphql: [] };
  for (let i = 0; i < rounds; i++)
    for (const name of ['rest', 'graphql'] as const) samples[name]!.push(await load(name, duration));
  const summary = Object.fromEntries(
    Object.entries(samples).map(([name, list]) => [
      name,
      {
        rps: Math.round(median(list.map((s) => s.rps))),
        p50: median(list.map((s) => s.p50)),
        p99: median(list.map((s) => s.p99)),
      },
    ]),
  ) as Record<'rest' | 'graphql', Sample>;
  const report = {
    node: process.version,
    cpus: os.cpus().length,
    connections,
    duration,
    rounds,
    ...summary,
    ratio: Math.round((summary.graphql.rps / summary.rest.rps) * 1000) / 1000,
  };
  console.log(JSON.stringify(report, null, 2));
  console.log(
    `\ncurrent user: GraphQL/REST throughput ratio ${report.ratio} (${summary.graphql.rps} vs ${summary.rest.rps} req/s)`,
  );
} finally {
  child.kill('SIGTERM');
}
