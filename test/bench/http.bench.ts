/**
 * Side-by-side benchmark: bare express 5 (as shipped, and with its default ETag turned off) vs Gantry's minimal stack (kernel + http + metrics, one
 * JSON route), each in its own process, loaded in alternating rounds by autocannon on loopback in
 * one run. Then the sandbox's cold start (spawn to first 200 on /healthz) and its RSS after load.
 *
 *   npm run bench            # or: BENCH_DURATION=5 BENCH_ROUNDS=2 npm run bench
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const duration = Number(process.env.BENCH_DURATION ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);

interface Sample {
  rps: number;
  p50: number;
  p99: number;
}

async function startServer(script: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [path.join(here, 'servers', script)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  });
  return { child, port };
}

async function load(port: number, seconds: number): Promise<Sample> {
  const result = await autocannon({ url: `http://127.0.0.1:${port}/api/v1/hello`, connections, duration: seconds, pipelining: 1 });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`port ${port}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function coldStart(): Promise<{ ms: number; rssMb: number }> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-bench-'));
  const t0 = performance.now();
  const child = spawn(process.execPath, [path.join(repo, 'sandbox/dist/src/main.js')], {
    cwd: path.join(repo, 'sandbox'),
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', GANTRY_DATABASE__DB_NAME: path.join(dir, 'bench.sqlite') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (child.exitCode !== null) throw new Error(`sandbox exited with ${child.exitCode}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - t0;
    return { ms, rssMb: rssMb(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const express = await startServer('express.js');
const expressNoEtag = await startServer('express.js', { BENCH_EXPRESS_ETAG: '0' });
const gantry = await startServer('gantry.js');
try {
  // Warm both (JIT, connection pools), then alternate rounds so drift hits both alike.
  await load(express.port, 3);
  await load(gantry.port, 3);
  await load(expressNoEtag.port, 3);
  const samples: { express: Sample[]; expressNoEtag: Sample[]; gantry: Sample[] } = { express: [], expressNoEtag: [], gantry: [] };
  for (let i = 0; i < rounds; i++) {
    samples.express.push(await load(express.port, duration));
    samples.gantry.push(await load(gantry.port, duration));
    samples.expressNoEtag.push(await load(expressNoEtag.port, duration));
  }
  const e = median(samples.express.map((s) => s.rps));
  const en = median(samples.expressNoEtag.map((s) => s.rps));
  const g = median(samples.gantry.map((s) => s.rps));
  const rss = rssMb(gantry.child.pid!);
  const expressRss = rssMb(express.child.pid!);
  const starts: { ms: number; rssMb: number }[] = [];
  for (let i = 0; i < 3; i++) starts.push(await coldStart());
  const report = {
    node: process.version,
    cpus: os.cpus().length,
    connections,
    duration,
    rounds,
    express: { rps: Math.round(e), p50: median(samples.express.map((s) => s.p50)), p99: median(samples.express.map((s) => s.p99)), rounds: samples.express.map((s) => Math.round(s.rps)), rssAfterLoadMb: expressRss },
    gantry: { rps: Math.round(g), p50: median(samples.gantry.map((s) => s.p50)), p99: median(samples.gantry.map((s) => s.p99)), rounds: samples.gantry.map((s) => Math.round(s.rps)), rssAfterLoadMb: rss },
    expressNoEtag: { rps: Math.round(en), rounds: samples.expressNoEtag.map((s) => Math.round(s.rps)) },
    ratio: Math.round((g / e) * 1000) / 1000,
    ratioVsExpressNoEtag: Math.round((g / en) * 1000) / 1000,
    sandboxColdStartMs: Math.round(median(starts.map((s) => s.ms))),
    sandboxRssAtFirstResponseMb: median(starts.map((s) => s.rssMb)),
  };
  console.log(JSON.stringify(report, null, 2));
  console.log(`\ngantry/express throughput ratio: ${report.ratio} (${report.gantry.rps} vs ${report.express.rps} req/s)`);
  console.log(`gantry/express (etag off) throughput ratio: ${report.ratioVsExpressNoEtag} (${report.gantry.rps} vs ${report.expressNoEtag.rps} req/s)`);
} finally {
  express.child.kill('SIGTERM');
  expressNoEtag.child.kill('SIGTERM');
  gantry.child.kill('SIGTERM');
}
