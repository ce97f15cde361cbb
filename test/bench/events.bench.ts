/**
 * kafka-events throughput and latency on the real Kafka of test/services/kafka.sh, in one run:
 * - raw: kafkajs `sendBatch` (idempotent, acks=all, one request in flight, GZIP as the driver sends,
 *   batches of BENCH_BATCH) of BENCH_EVENTS records to a fresh topic: the ceiling (also shown
 *   uncompressed);
 * - outbox: the same number of events written to the SQLite outbox first (relay off), then one
 *   instance's relay forwarding them to Kafka (claim, send, mark): events/s and the ratio to raw;
 * - BENCH_ROUNDS rounds (3) of raw and outbox, alternating which runs first; the median ratio;
 * - latency: BENCH_LATENCY_EVENTS events published through the outbox at ~BENCH_RATE/s with the relay
 *   and a consumer running: publish (ce_time) to handler start, p50 and p99.
 *
 *   sh test/services/zookeeper.sh ensure && sh test/services/kafka.sh ensure
 *   npm run bench:events     # KAFKA_BROKERS=127.0.0.1:9092 BENCH_EVENTS=20000 ...
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { DatabaseToken, plugin as databasePlugin } from '@gantry/plugin-database';
import { postgresSchemas } from '@gantry/plugin-database/testing';
import { defineEvent, EventsToken, plugin as eventsPlugin, type Events } from '@gantry/plugin-kafka-events';
// Loaded first so the raw kafkajs side runs with the same fixes as the driver (the request queue, the
// encoder's buffers): the ratio is the outbox's cost, not theirs.
import '@gantry/plugin-kafka-events/kafka';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { definePlugin } from '@gantry/core';
import { z } from 'zod';
import { median } from './stats.js';

// Required, not imported: a static import would load kafkajs before the driver could fix it.
const { CompressionTypes, Kafka, logLevel } = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs');
type CompressionTypes = import('kafkajs').CompressionTypes;

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const total = Number(process.env.BENCH_EVENTS ?? 20_000);
const batch = Number(process.env.BENCH_BATCH ?? 500);
const latencyEvents = Number(process.env.BENCH_LATENCY_EVENTS ?? 2_000);
const rate = Number(process.env.BENCH_RATE ?? 500);
// Partition keys (aggregate ids): a key's events keep their order, keys spread over the topic's partitions.
const keys = Number(process.env.BENCH_KEYS ?? 1_000);
const benchRounds = Number(process.env.BENCH_ROUNDS ?? 3);

const Measured = defineEvent({
  type: 'bench.measured',
  version: 1,
  data: z.object({ n: z.number().int(), pad: z.string() }),
});
const pad = 'x'.repeat(160);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** kafkajs sendBatch with the driver's producer settings (idempotent, acks=all, GZIP) or without compression. */
/** Events per second and process CPU time (µs) per event of one phase. */
interface Phase {
  readonly rate: number;
  readonly cpuPerEventUs: number;
}

async function raw(topic: string, compression: CompressionTypes): Promise<Phase> {
  const kafka = new Kafka({ clientId: 'bench-raw', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const value = JSON.stringify({ n: 0, pad });
  // The records are built before the clock starts (the outbox's were built when published): only publishing is timed.
  const batches: { key: string; value: string; headers: Record<string, string> }[][] = [];
  for (let i = 0; i < total; i += batch) {
    batches.push(
      Array.from({ length: Math.min(batch, total - i) }, (_, j) => ({
        key: `k${(i + j) % keys}`,
        value,
        // The same record the outbox sends: CloudEvents headers, traceparent, request id.
        headers: {
          ce_id: randomUUID(),
          ce_type: 'bench.measured',
          ce_source: '/gantry/bench',
          ce_time: new Date().toISOString(),
          ce_specversion: '1.0',
          ce_dataschema: 'urn:gantry:event:bench.measured:1',
          ce_schemaversion: '1',
          ce_subject: `k${(i + j) % keys}`,
          'content-type': 'application/json',
          traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`,
        },
      })),
    );
  }
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (const messages of batches) {
    await producer.sendBatch({ acks: -1, compression, topicMessages: [{ topic, messages }] });
  }
  const seconds = (performance.now() - started) / 1_000;
  const cpu = process.cpuUsage(cpu0);
  await producer.disconnect();
  return { rate: total / seconds, cpuPerEventUs: (cpu.user + cpu.system) / total };
}

function probe(onEvent?: (events: Events) => void) {
  return definePlugin({
    name: 'bench-probe',
    version: '1.0.0',
    kernel: '^0.1.0',
    dependsOn: ['kafka-events'],
    register(ctx) {
      const events = ctx.container.get(EventsToken);
      events.define(Measured);
      onEvent?.(events);
    },
  });
}

// BENCH_DB=postgresql: the outbox on the test PostgreSQL (a schema per run), else a SQLite file.
const engine = process.env.BENCH_DB === 'postgresql' ? 'postgresql' : 'sqlite';
const schemas = postgresSchemas('events-bench');
const pgDatabases = new Map<string, Record<string, unknown>>();

function databaseOptions(file: string): Record<string, unknown> {
  if (engine === 'sqlite') return { dbName: file };
  let options = pgDatabases.get(file);
  if (!options) {
    options = schemas.fresh();
    pgDatabases.set(file, options);
  }
  return options;
}

async function boot(file: string, events: Record<string, unknown>, onEvent?: (e: Events) => void): Promise<TestKernel> {
  return createTestKernel({
    plugins: [databasePlugin, eventsPlugin, probe(onEvent)],
    config: { database: databaseOptions(file), 'kafka-events': { driver: 'kafka', brokers, ...events } },
  });
}

async function waitFor(check: () => Promise<boolean>, everyMs = 5): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, everyMs));
}

function probeDbOf(tk: TestKernel) {
  return tk.get(DatabaseToken);
}

/** The relay's queue of pending events (what is left to send). */
function queueOf(file: string): string {
  const schema = databaseOptions(file).schema;
  return typeof schema === 'string' ? `"${schema}".gantry_outbox_pending` : 'gantry_outbox_pending';
}

async function outbox(file: string, prefix: string): Promise<Phase> {
  const events = { topicPrefix: prefix, consumers: false };
  const writer = await boot(file, { ...events, relay: { enabled: false } });
  const db = writer.get(DatabaseToken);
  for (let i = 0; i < total; i += batch) {
    await db.transaction(async () => {
      for (let j = i; j < Math.min(total, i + batch); j++)
        await writer.get(EventsToken).publish(Measured, { n: j, pad }, { key: `k${j % keys}` });
    });
  }
  await writer.stop();
  const relay = await boot(file, { ...events, relay: { batchSize: batch, intervalMs: 10 } });
  // The relay starts with the kernel: rows it sent before the clock started are not counted.
  const alreadySent =
    total -
    Number(
      (
        await probeDbOf(relay)
          .orm()
          .em.fork()
          .execute<{ n: number | string }[]>(`select count(*) as n from ${queueOf(file)}`)
      )[0]?.n ?? 0,
    );
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  // Done when no pending row is left: an existence probe every 10 ms (a count(*) of the whole
  // backlog every few ms would spend the relay's own CPU on the measurement).
  const probeDb = probeDbOf(relay);
  const queue = queueOf(file);
  const unsentLeft = async (): Promise<boolean> =>
    (await probeDb.orm().em.fork().execute(`select 1 from ${queue} limit 1`)).length > 0;
  await waitFor(async () => !(await unsentLeft()), 10);
  const seconds = (performance.now() - started) / 1_000;
  const cpu = process.cpuUsage(cpu0);
  await relay.stop();
  const timed = total - alreadySent;
  return { rate: timed / seconds, cpuPerEventUs: (cpu.user + cpu.system) / timed };
}

async function latency(dir: string, prefix: string): Promise<{ p50: number; p99: number }> {
  const file = path.join(dir, 'latency.sqlite');
  const samples: number[] = [];
  const tk = await boot(file, { topicPrefix: prefix, relay: { batchSize: batch, intervalMs: 10 } }, (events) =>
    events.on(Measured, (e) => void samples.push(Date.now() - Date.parse(e.time))),
  );
  // Let the consumer join its group before measuring.
  await new Promise((r) => setTimeout(r, 3_000));
  const events = tk.get(EventsToken);
  const gap = 1_000 / rate;
  const started = Date.now();
  for (let i = 0; i < latencyEvents; i++) {
    await events.publish(Measured, { n: i, pad }, { key: `k${i % keys}` });
    const due = started + (i + 1) * gap;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
  }
  await waitFor(async () => samples.length >= latencyEvents);
  await tk.stop();
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-events-bench-'));
  const run = randomBytes(3).toString('hex');
  try {
    // Uncompressed first: it also warms kafkajs's code and the broker before the measured rounds.
    const rawPlain = await raw(`bench${run}.raw-plain`, CompressionTypes.None);
    // Rounds alternate raw and relay, and which of the two goes first, so that a change of the shared
    // machine's load during the run weighs on both sides; each round's ratio is printed.
    const rounds: { raw: Phase; relayed: Phase; ratio: number }[] = [];
    for (let r = 0; r < benchRounds; r++) {
      const rawRound = (): Promise<Phase> => raw(`bench${run}.raw${r}`, CompressionTypes.GZIP);
      const relayRound = (): Promise<Phase> => outbox(path.join(dir, `outbox${r}.sqlite`), `bench${run}.outbox${r}.`);
      let rawGzip: Phase;
      let relayed: Phase;
      if (r % 2 === 0) {
        rawGzip = await rawRound();
        relayed = await relayRound();
      } else {
        relayed = await relayRound();
        rawGzip = await rawRound();
      }
      rounds.push({ raw: rawGzip, relayed, ratio: relayed.rate / rawGzip.rate });
    }
    const lat = await latency(dir, `bench${run}.latency.`);
    const ratio = median(rounds.map((x) => x.ratio));
    console.log(
      `events: ${engine} outbox, ${total} records of ~${pad.length + 20} bytes, ${keys} keys, batches of ${batch}, ${benchRounds} rounds, brokers ${brokers.join(',')}`,
    );
    rounds.forEach((x, r) =>
      console.log(
        `round ${r + 1}${r % 2 ? ' (relay first)' : ' (raw first)  '}: raw kafkajs sendBatch ${x.raw.rate.toFixed(0)} events/s, ${x.raw.cpuPerEventUs.toFixed(1)} µs CPU/event; outbox relay ${x.relayed.rate.toFixed(0)} events/s, ${x.relayed.cpuPerEventUs.toFixed(1)} µs CPU/event; ratio ${x.ratio.toFixed(2)}`,
      ),
    );
    console.log(
      `ratio outbox relay / raw (GZIP, as the driver sends): median ${ratio.toFixed(2)} of ${rounds.map((x) => x.ratio.toFixed(2)).join(' / ')} (target ≥ 0.8); raw uncompressed ${rawPlain.rate.toFixed(0)} events/s`,
    );
    console.log(
      `publish → consume     : p50 ${lat.p50} ms, p99 ${lat.p99} ms (${latencyEvents} events at ~${rate}/s through the outbox)`,
    );
    console.log(
      JSON.stringify({
        rawPlain: rawPlain.rate,
        rounds: rounds.map((x) => ({
          rawRate: x.raw.rate,
          rawCpuPerEventUs: x.raw.cpuPerEventUs,
          outboxRate: x.relayed.rate,
          outboxCpuPerEventUs: x.relayed.cpuPerEventUs,
          ratio: x.ratio,
        })),
        ratio,
        latencyP50Ms: lat.p50,
        latencyP99Ms: lat.p99,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    if (engine === 'postgresql') await schemas.dropAll();
  }
}

await main();
