/**
 * WebSocket broadcast: 1,000 clients (this process) connected to one Gantry server (its own process),
 * all subscribed to one channel; the server publishes BENCH_WS_MESSAGES messages to it. Reports
 * deliveries per second, delivery latency (p50/p99, send time to receipt, same machine clock) and the
 * server's RSS before and after.
 *
 *   node test/dist/bench/ws.bench.js   # BENCH_WS_CLIENTS=1000 BENCH_WS_MESSAGES=200
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const clients = Number(process.env.BENCH_WS_CLIENTS ?? 1_000);
const messages = Number(process.env.BENCH_WS_MESSAGES ?? 200);

const child = spawn(process.execPath, [path.join(here, 'servers', 'gantry-ws.js')], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const port = Number(
  await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    child.stdout!.once('data', (d: Buffer) => resolve(String(d).trim()));
  }),
);
const base = `http://127.0.0.1:${port}`;
const now = (): number => performance.timeOrigin + performance.now();

try {
  const latencies: number[] = [];
  let received = 0;
  const sockets: WebSocket[] = [];
  for (let batch = 0; batch < clients; batch += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, clients - batch) }, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['gantry.v1']);
        sockets.push(ws);
        await new Promise<void>((resolve, reject) => {
          ws.once('error', reject);
          ws.on('message', (data) => {
            const m = JSON.parse(String(data)) as { type: string; data?: { sentAt: number } };
            if (m.type === 'subscribed') resolve();
            else if (m.type === 'message') {
              received++;
              latencies.push(now() - m.data!.sentAt);
            }
          });
          ws.once('open', () => ws.send(JSON.stringify({ type: 'subscribe', channel: 'bench' })));
        });
      }),
    );
  }
  const before = (await (await fetch(`${base}/api/v1/stats`)).json()) as { connections: number; rssMb: number };
  const expected = clients * messages;
  const t0 = now();
  const sent = fetch(`${base}/api/v1/broadcast?count=${messages}`, { method: 'POST' }).then((r) => r.json());
  const deadline = Date.now() + 120_000;
  while (received < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const seconds = (now() - t0) / 1000;
  const after = (await sent) as { dropped: number; rssMb: number };
  if (received < expected)
    console.warn(`only ${received} of ${expected} deliveries arrived (${after.dropped} dropped by the server)`);
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]! * 10) / 10;
  const report = {
    node: process.version,
    cpus: os.cpus().length,
    clients: before.connections,
    messages,
    deliveries: received,
    expected,
    dropped: after.dropped,
    seconds: Math.round(seconds * 100) / 100,
    deliveriesPerSecond: Math.round(received / seconds),
    broadcastsPerSecond: Math.round(messages / seconds),
    latencyMs: { p50: pct(0.5), p99: pct(0.99), max: pct(1) },
    serverRssMb: { connected: before.rssMb, afterBroadcast: after.rssMb },
  };
  console.log(JSON.stringify(report, null, 2));
  console.log(
    `\nbroadcast to ${report.clients} clients: ${report.deliveriesPerSecond} deliveries/s, p99 ${report.latencyMs.p99} ms, server RSS ${report.serverRssMb.afterBroadcast} MiB`,
  );
  for (const ws of sockets) ws.terminate();
} finally {
  child.kill('SIGTERM');
}
