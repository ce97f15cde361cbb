/**
 * Start-up, memory and scaling of the sandbox (issue 12, items 5 and 6), measured on the built sandbox
 * as `npm start` runs it (`node sandbox/dist/bundle/main.js` with the environment and Node flags of the
 * root package.json's start script, read from it; embedded profile; BENCH_SANDBOX_ENTRY=dist/src/main.js
 * runs the unbundled entry with the same flags instead):
 *
 * 1. cold start: spawn → first 200 on /readyz with every plugin the sandbox enables (BENCH_COLD_STARTS
 *    times), and RSS at that moment;
 * 2. RSS after load: the same process with an administrator seeded, autocannon on an authenticated
 *    route (`GET /api/v1/users/me`, bearer from a login) then a public one (`GET /api/v1/demo/wait?ms=0`),
 *    BENCH_DURATION seconds each; RSS read from /proc/<pid>/status afterwards (BENCH_LOAD_RUNS times),
 *    and again after BENCH_IDLE_SECONDS (default 20) without requests, once V8's memory reducer had the
 *    time to give back what the load grew (it checks every 8 s; see keepMemoryReducerAwake in core);
 * 3. scaling: 3, 3 + rate-limit, 10 and all plugins enabled (config files written to a temp folder, passed as
 *    GANTRY_CONFIG), the same public route: boot time (spawn → first 200 of the route, and the kernel's
 *    own "started N plugins in X ms"), then server CPU µs per request (utime+stime from /proc/<pid>/stat
 *    over BENCH_DURATION seconds / requests served), BENCH_SCALING_RUNS times each; a least-squares line
 *    of boot time against the plugin count gives the constant per plugin.
 *
 * Server pinned to CPU 1 and the load generator to CPU 0 when there are two CPUs (BENCH_PIN=0: not).
 * The rate-limit default policy is raised to 1 000 000 per minute for every run (env override) so the
 * load is served rather than refused; every other option is the sandbox's.
 *
 *   npm run bench:startup     # BENCH_DURATION=5 BENCH_COLD_STARTS=5 BENCH_LOAD_RUNS=3 BENCH_SCALING_RUNS=3 BENCH_IDLE_SECONDS=20
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freePort } from '../support/sandbox-ports.js';
import { cpuMicros, nodeCommand, pinLoadGenerator, rssMb } from './process.js';
import { median } from './stats.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const sandboxDir = path.join(repo, 'sandbox');
const duration = Number(process.env.BENCH_DURATION ?? 5);
const coldStarts = Number(process.env.BENCH_COLD_STARTS ?? 5);
const loadRuns = Number(process.env.BENCH_LOAD_RUNS ?? 3);
const scalingRuns = Number(process.env.BENCH_SCALING_RUNS ?? 3);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 20);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const serverCpu = pinLoadGenerator();

/**
 * How `npm start` runs the sandbox: the environment and Node flags of the root package.json's start
 * script (`exec env VAR=... node --flag... dist/bundle/main.js`), so the figures are for that command.
 */
function startCommand(): { env: Record<string, string>; flags: string[]; entry: string } {
  const scripts = (
    JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  const m = /exec (?:env ((?:\w+=\S+ )+))?node ((?:--\S+ )*)(dist\/(?:src|bundle)\/main\.js)/.exec(scripts.start ?? '');
  if (!m) throw new Error(`cannot read how "npm start" runs the sandbox from: ${scripts.start}`);
  const env = Object.fromEntries(
    (m[1] ?? '')
      .trim()
      .split(' ')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const entry = process.env.BENCH_SANDBOX_ENTRY ?? m[3]!;
  return { env, flags: (m[2] ?? '').trim().split(' ').filter(Boolean), entry };
}
const start = startCommand();

const PUBLIC_ROUTE = '/api/v1/demo/wait?ms=0';
const ADMIN = { email: 'bench-admin@example.com', password: 'bench-admin-password-0123456789' };

type PluginMap = Record<string, unknown>;

/**
 * The sandbox's plugins in its embedded profile, in config order. Local plugins keep their keys
 * (`./dist/src/...`): the sandbox's entry has a loader for each, so a temp config file naming them
 * loads the bundled module, not the file beside it (which would bring a second @gantry/core).
 */
function sandboxPlugins(): PluginMap {
  const file = JSON.parse(readFileSync(path.join(sandboxDir, 'gantry.config.json'), 'utf8')) as {
    plugins: PluginMap;
    profiles: Record<string, { plugins: PluginMap }>;
  };
  const merged: PluginMap = { ...file.plugins };
  for (const [name, options] of Object.entries(file.profiles.embedded?.plugins ?? {}))
    merged[name] =
      options && typeof options === 'object' && merged[name] && typeof merged[name] === 'object'
        ? { ...(merged[name] as object), ...(options as object) }
        : options;
  const out: PluginMap = {};
  for (const [name, options] of Object.entries(merged)) {
    if (options === false) continue;
    out[name] = options;
  }
  return out;
}

const all = sandboxPlugins();
const demo = './dist/src/demo/plugin.js';
const pick = (names: string[]): PluginMap => Object.fromEntries(names.map((n) => [n, all[n] ?? {}]));
/**
 * The plugin sets of the scaling run; each serves the public route. From 10 plugins on, the route
 * carries the rate-limit plugin's default policy (counted on every request: work of the route itself,
 * not a cost of being enabled); "3 + rate-limit" is the 3 set with that policy too, so that the cost
 * of the plugins that do nothing on the route is read from it to 10 and all.
 */
// Names that are not array indices, so that objects keep the sets in this order.
const SETS: Record<string, PluginMap> = {
  '3 plugins': pick(['http', 'metrics', demo]),
  '3 plugins + rate-limit': pick(['http', 'metrics', 'rate-limit', demo]),
  '10 plugins': pick([
    'http',
    'metrics',
    'database',
    'circuit-breaker',
    'mailer',
    'rate-limit',
    'audit',
    'auth-jwt',
    'rbac',
    demo,
  ]),
  'every plugin': all,
};

interface Sandbox {
  readonly child: ChildProcess;
  readonly base: string;
  readonly dir: string;
  /** Spawn → first 200 of the awaited path, in ms. */
  readonly readyMs: number;
  /** The kernel's own figure: "started N plugins in X ms". */
  readonly kernel: { plugins: number; totalMs: number } | undefined;
}

async function spawnSandbox(options: {
  plugins?: PluginMap;
  waitFor: string;
  env?: Record<string, string>;
}): Promise<Sandbox> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-startup-'));
  const port = await freePort();
  const idpPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    ...start.env,
    PORT: String(port),
    DEV_IDP_PORT: String(idpPort),
    LOG_LEVEL: 'info',
    GANTRY_DATABASE__DB_NAME: path.join(dir, 'bench.sqlite'),
    GANTRY_MAILER__OUT_DIR: path.join(dir, 'mail'),
    GANTRY_RATE_LIMIT__DEFAULT: JSON.stringify({ windowMs: 60_000, limit: 1_000_000 }),
    ...options.env,
  };
  if (options.plugins) {
    const file = path.join(dir, 'gantry.config.json');
    writeFileSync(file, JSON.stringify({ plugins: options.plugins }, null, 2));
    env.GANTRY_CONFIG = file;
  }
  const entry = path.join(sandboxDir, start.entry);
  const [command, args] = nodeCommand([...start.flags, entry], serverCpu);
  const t0 = performance.now();
  const child = spawn(command, args, { cwd: sandboxDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let kernel: Sandbox['kernel'];
  let output = '';
  const onData = (d: Buffer): void => {
    output += String(d);
    const m = /"totalMs":([\d.]+).*"msg":"started (\d+) plugins/.exec(output);
    if (m && !kernel) kernel = { plugins: Number(m[2]), totalMs: Number(m[1]) };
    if (output.length > 1e6) output = output.slice(-1e5);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  try {
    for (;;) {
      const res = await fetch(base + options.waitFor).catch(() => undefined);
      if (res?.status === 200) break;
      if (child.exitCode !== null) throw new Error(`sandbox exited with ${child.exitCode}:\n${output.slice(-4000)}`);
      if (performance.now() - t0 > 60_000) throw new Error(`sandbox: no 200 on ${options.waitFor} within 60 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const readyMs = performance.now() - t0;
    // The kernel logs its timeline just after listening: give it a moment.
    for (let i = 0; i < 100 && !kernel; i++) await new Promise((r) => setTimeout(r, 10));
    return { child, base, dir, readyMs, kernel };
  } catch (err) {
    await stop({ child, dir });
    throw err;
  }
}

async function stop(s: Pick<Sandbox, 'child' | 'dir'>): Promise<void> {
  if (s.child.exitCode === null) {
    const exited = new Promise((r) => s.child.once('exit', r));
    s.child.kill('SIGTERM');
    const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(s.dir, { recursive: true, force: true });
}

async function load(
  s: Sandbox,
  route: string,
  seconds: number,
  headers: Record<string, string> = {},
): Promise<{ rps: number; requests: number; cpuUsPerRequest: number }> {
  const pid = s.child.pid!;
  const cpu0 = cpuMicros(pid);
  const result = await autocannon({ url: s.base + route, headers, connections, duration: seconds });
  const cpu = cpuMicros(pid) - cpu0;
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${route}: ${result.non2xx} non-2xx, ${result.errors} errors of ${result.requests.total}`);
  return {
    rps: Math.round(result.requests.average),
    requests: result.requests.total,
    cpuUsPerRequest: Math.round((cpu / result.requests.total) * 10) / 10,
  };
}

const spread = (values: number[]) => ({
  median: Math.round(median(values) * 10) / 10,
  min: Math.round(Math.min(...values) * 10) / 10,
  max: Math.round(Math.max(...values) * 10) / 10,
});

/** Least squares y = a + b·x. */
function lineFit(points: { x: number; y: number }[]): { perPluginMs: number; interceptMs: number } {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  const b = sxy / sxx;
  return { perPluginMs: Math.round(b * 10) / 10, interceptMs: Math.round(my - b * mx) };
}

// 1. Cold start, every plugin, as `npm start` runs it (the sandbox's own config file).
const cold: { ms: number; rssMb: number; kernelMs: number }[] = [];
for (let i = 0; i < coldStarts; i++) {
  const s = await spawnSandbox({ waitFor: '/readyz' });
  cold.push({ ms: s.readyMs, rssMb: rssMb(s.child.pid!), kernelMs: s.kernel?.totalMs ?? Number.NaN });
  await stop(s);
}

// 2. RSS after load, every plugin, an administrator seeded to sign in with.
const loaded: { rssMb: number; idleRssMb: number; authRps: number; publicRps: number }[] = [];
for (let i = 0; i < loadRuns; i++) {
  const s = await spawnSandbox({
    waitFor: '/readyz',
    env: { SANDBOX_ADMIN_EMAIL: ADMIN.email, SANDBOX_ADMIN_PASSWORD: ADMIN.password },
  });
  try {
    const res = await fetch(`${s.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    const body = (await res.json()) as { accessToken?: string };
    if (res.status !== 200 || !body.accessToken) throw new Error(`login: ${res.status} ${JSON.stringify(body)}`);
    const auth = await load(s, '/api/v1/users/me', duration, { authorization: `Bearer ${body.accessToken}` });
    const pub = await load(s, PUBLIC_ROUTE, duration);
    const afterLoad = rssMb(s.child.pid!);
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    loaded.push({ rssMb: afterLoad, idleRssMb: rssMb(s.child.pid!), authRps: auth.rps, publicRps: pub.rps });
  } finally {
    await stop(s);
  }
}

// 3. Scaling: 3, 3 + rate-limit, 10 and all plugins, same route; the sets take turns so drift hits all alike.
const scaling: Record<
  string,
  { plugins: number; bootMs: number[]; kernelMs: number[]; cpuUs: number[]; rps: number[] }
> = Object.fromEntries(
  Object.entries(SETS).map(([k, v]) => [
    k,
    { plugins: Object.keys(v).length, bootMs: [], kernelMs: [], cpuUs: [], rps: [] },
  ]),
);
for (let i = 0; i < scalingRuns; i++) {
  for (const [name, plugins] of Object.entries(SETS)) {
    const s = await spawnSandbox({ plugins, waitFor: PUBLIC_ROUTE });
    try {
      const row = scaling[name]!;
      row.bootMs.push(s.readyMs);
      row.kernelMs.push(s.kernel?.totalMs ?? Number.NaN);
      if (s.kernel && s.kernel.plugins !== row.plugins)
        throw new Error(`set ${name}: the kernel started ${s.kernel.plugins} plugins, not ${row.plugins}`);
      await load(s, PUBLIC_ROUTE, 2); // warm-up
      const r = await load(s, PUBLIC_ROUTE, duration);
      row.cpuUs.push(r.cpuUsPerRequest);
      row.rps.push(r.rps);
    } finally {
      await stop(s);
    }
  }
}

const points = Object.values(scaling).flatMap((r) => r.bootMs.map((y) => ({ x: r.plugins, y })));
const kernelPoints = Object.values(scaling).flatMap((r) => r.kernelMs.map((y) => ({ x: r.plugins, y })));
const report = {
  node: process.version,
  cpus: os.cpus().length,
  loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  pinned: serverCpu !== undefined,
  startCommand: start,
  duration,
  connections,
  coldStart: {
    plugins: Object.keys(all).length,
    readyMs: spread(cold.map((c) => c.ms)),
    kernelStartMs: spread(cold.map((c) => c.kernelMs)),
    rssAtReadyMb: spread(cold.map((c) => c.rssMb)),
  },
  afterLoad: {
    rssMb: spread(loaded.map((l) => l.rssMb)),
    idleSeconds,
    rssAfterIdleMb: spread(loaded.map((l) => l.idleRssMb)),
    authenticatedRps: spread(loaded.map((l) => l.authRps)),
    publicRps: spread(loaded.map((l) => l.publicRps)),
  },
  scaling: Object.fromEntries(
    Object.entries(scaling).map(([k, r]) => [
      k,
      {
        plugins: r.plugins,
        bootMs: spread(r.bootMs),
        kernelStartMs: spread(r.kernelMs),
        cpuUsPerRequest: spread(r.cpuUs),
        rps: spread(r.rps),
        cpuRuns: r.cpuUs,
      },
    ]),
  ),
  bootFit: { spawnToFirst200: lineFit(points), kernelStart: lineFit(kernelPoints) },
};
console.log(JSON.stringify(report, null, 2));
console.log(
  `\ncold start ${report.coldStart.readyMs.median} ms (${report.coldStart.readyMs.min}–${report.coldStart.readyMs.max}), ` +
    `RSS after load ${report.afterLoad.rssMb.median} MB (${report.afterLoad.rssMb.min}–${report.afterLoad.rssMb.max}), ` +
    `${idleSeconds} s later ${report.afterLoad.rssAfterIdleMb.median} MB (${report.afterLoad.rssAfterIdleMb.min}–${report.afterLoad.rssAfterIdleMb.max}), ` +
    `boot +${report.bootFit.spawnToFirst200.perPluginMs} ms per plugin`,
);
console.log('\n| set | plugins | boot ms (median, min–max) | kernel start ms | CPU µs/request (runs) | req/s |');
console.log('|---|---|---|---|---|---|');
for (const [name, r] of Object.entries(report.scaling))
  console.log(
    `| ${name} | ${r.plugins} | ${r.bootMs.median} (${r.bootMs.min}–${r.bootMs.max}) | ${r.kernelStartMs.median} | ${r.cpuUsPerRequest.median} (${r.cpuRuns.join(', ')}) | ${r.rps.median} |`,
  );
