// The must-hold behaviour against a real broker: run on Kafka 3.9 in ZooKeeper mode
// (events.kafka.test.ts) and Kafka 4 in KRaft mode (events.kraft.test.ts). The outage test stops and
// restarts that broker with its own service script.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { definePlugin, silentLogger, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { DatabaseToken } from '@gantry/plugin-database';
import type { TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { createKafkaDriver } from '../../src/drivers/kafka.js';
import { EventsToken, HEADERS, OutboxRelay, type EventDriver, type IncomingMessage } from '../../src/index.js';
import { Kernels, OrderPlaced, until } from './kit.js';

const ROOT = path.resolve(import.meta.dirname, '../../../../..');
const run = promisify(execFile);

/** The broker under test and the script that starts and stops it. */
export interface MustHoldBroker {
  readonly title: string;
  /** `host:port`. */
  readonly bootstrap: string;
  /** Service script relative to the repository root. */
  readonly script: string;
  /** Environment the script reads its port from (e.g. `{ KAFKA_PORT: '9092' }`). */
  readonly env: Readonly<Record<string, string>>;
}

let BROKERS: string[] = [];

/** Options of kafka-events on the real broker, with topics and groups no other test uses. */
function kafkaOptions(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const id = randomBytes(4).toString('hex');
  return { driver: 'kafka', brokers: BROKERS, topicPrefix: `t${id}.`, group: `g${id}`, partitions: 3, ...extra };
}

/** A route that commits a note and publishes an event in one transaction; `?fail=1` rolls it back after publishing. */
function ordersRoute(): Plugin {
  return definePlugin({
    name: 'orders-route',
    version: '1.0.0',
    kernel: '^0.1.0',
    dependsOn: ['http', 'database', 'kafka-events', 'events-probe'],
    register(ctx) {
      const db = ctx.container.get(DatabaseToken);
      const events = ctx.container.get(EventsToken);
      ctx.http.post('/orders/:id', { status: 201 }, async (req) => {
        const orderId = String((req.params as { id: string }).id);
        const seq = Number((req.query as { seq?: string }).seq ?? 1);
        const eventId = await db.transaction(async (em) => {
          await em.execute('insert into note (id, body) values (?, ?)', [`${orderId}-${seq}`, 'order']);
          const id = await events.publish(OrderPlaced, { orderId, seq }, { key: orderId });
          if ((req.query as { fail?: string }).fail) throw new Error('rolled back on purpose');
          return id;
        });
        return { eventId };
      });
    },
  });
}

/** Every record of `topic` on the broker (a fresh driver: what a separate tool would see). */
async function readAll(topic: string): Promise<IncomingMessage[]> {
  const driver = createKafkaDriver({ brokers: BROKERS, clientId: 'gantry-test-reader' });
  try {
    await driver.connect();
    return await driver.read(topic, { limit: 100_000 });
  } finally {
    await driver.close();
  }
}

/** Sequence numbers per key, in offset order. */
function seqsByKey(records: IncomingMessage[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const sorted = [...records].sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  for (const r of sorted) {
    const seq = (JSON.parse(r.value.toString()) as { seq: number }).seq;
    out.set(r.key ?? '', [...(out.get(r.key ?? '') ?? []), seq]);
  }
  return out;
}

/** Runs `wait`; when it fails, fails with its message and what `state` says at that moment. */
async function explained(state: () => Promise<string>, wait: () => Promise<unknown>): Promise<void> {
  try {
    await wait();
  } catch (err) {
    const now = await state().catch((e: unknown) => `(state unavailable: ${String(e)})`);
    throw new Error(`${(err as Error).message}\n${now}`, { cause: err });
  }
}

async function applied(tk: TestKernel): Promise<string[]> {
  const rows = await tk.get(DatabaseToken).em().execute<{ event_id: string }[]>('select event_id from applied');
  return rows.map((r) => r.event_id);
}

/** A transactional handler recording each event in `applied`, in the transaction that marks it processed. */
function recordApplied(calls: string[] = []) {
  return ({ events }: { events: import('../../src/index.js').Events }) =>
    events.on(
      OrderPlaced,
      async (e, { em }) => {
        calls.push(e.id);
        await em!.execute('insert into applied (event_id, order_id, seq) values (?, ?, ?)', [
          e.id,
          e.data.orderId,
          e.data.seq,
        ]);
      },
      { transactional: true },
    );
}

/** Registers the must-hold suite against `broker`. */
export function mustHoldSuite(broker: MustHoldBroker): void {
  describe(`kafka-events must-hold on ${broker.title}`, function () {
    this.timeout(120_000);
    before(() => {
      BROKERS = [broker.bootstrap];
    });
    const kernels = new Kernels();
    afterEach(() => kernels.stopAll());

    it('must-hold 1: a request commits and publishes; the relay dies between the ack and the mark; the event is sent again and applied once; a rollback publishes nothing', async () => {
      const file = kernels.sqliteFile();
      const options = kafkaOptions({ relay: { enabled: false } });
      const consumer = await kernels.boot({ database: { dbName: file }, events: options, setup: recordApplied() });
      const web = await kernels.boot({
        database: { dbName: file },
        events: { ...options, consumers: false },
        extra: [httpPlugin, ordersRoute()],
      });
      const ok = await web.inject({ method: 'POST', url: '/api/v1/orders/o-1' });
      expect(ok.statusCode, ok.body).to.equal(201);
      const { eventId } = ok.json() as { eventId: string };
      const failed = await web.inject({ method: 'POST', url: '/api/v1/orders/o-2?fail=1' });
      expect(failed.statusCode).to.equal(500);
      expect((await web.get(EventsToken).outboxStats())?.depth).to.equal(1);

      // The relay's process dies right after Kafka acknowledged: the row keeps its lease, unmarked.
      const kafka = createKafkaDriver({ brokers: BROKERS, clientId: 'gantry-test-dying' });
      const dying: EventDriver = {
        ...kafka,
        name: kafka.name,
        connect: () => kafka.connect(),
        send: async (messages) => {
          await kafka.send(messages);
          return new Promise<void>(() => undefined);
        },
      };
      await kafka.connect();
      const zombie = new OutboxRelay({
        db: web.get(DatabaseToken),
        driver: dying,
        logger: silentLogger(),
        intervalMs: 10,
        batchSize: 10,
        leaseMs: 1_000,
        sendTimeoutMs: 10_000,
        pruneAfterMs: 60_000,
      });
      void zombie.relayOnce().catch(() => undefined);
      await until('the first delivery applied', async () => (await applied(consumer)).length === 1, 60_000);
      expect((await web.get(EventsToken).outboxStats())?.depth).to.equal(1);
      await kafka.close();

      // The instance restarts with its relay: the lease expired, the row goes out again and is marked.
      await kernels.boot({
        database: { dbName: file },
        events: { ...options, consumers: false, relay: { intervalMs: 50, leaseMs: 1_000 } },
      });
      await until('the row marked sent', async () => (await web.get(EventsToken).outboxStats())?.depth === 0, 60_000);
      const topic = web.get(EventsToken).topicOf('orders.placed');
      const records = await until('both copies on the topic', async () => {
        const r = await readAll(topic);
        return r.length >= 2 ? r : undefined;
      });
      expect(records.map((r) => r.headers[HEADERS.id])).to.deep.equal([eventId, eventId]);
      await until(
        'both copies consumed',
        async () => (await consumer.get(EventsToken).lag()).every((g) => g.lag === 0),
        60_000,
      );
      expect(await applied(consumer)).to.deep.equal([eventId]);
    });

    it('must-hold 2: a throwing handler goes through the retry topics to the DLQ with its error; replay re-delivers it to the fixed handler', async () => {
      let fixed = false;
      const attempts: number[] = [];
      const handled: string[] = [];
      const tk = await kernels.boot({
        database: false,
        events: kafkaOptions({ retry: { backoffMs: [200, 400], jitter: 0 } }),
        setup: ({ events }) =>
          events.on(OrderPlaced, (e) => {
            attempts.push(e.attempt);
            if (!fixed) throw new Error(`payment declined for ${e.data.orderId}`);
            handled.push(e.id);
          }),
      });
      const events = tk.get(EventsToken);
      const id = await events.publish(OrderPlaced, { orderId: 'o-3', seq: 1 }, { key: 'o-3' });
      const [letter] = await until(
        'the dead letter',
        async () => {
          const l = await events.deadLetters();
          return l.length ? l : undefined;
        },
        60_000,
      );
      expect(letter!.id).to.equal(id);
      expect(letter!.error).to.equal('payment declined for o-3');
      expect(letter!.attempts.map((a) => a.error)).to.deep.equal(Array(3).fill('payment declined for o-3'));
      expect(attempts).to.deep.equal([1, 2, 3]);
      const topic = events.topicOf('orders.placed');
      expect(await readAll(`${topic}.retry.1`)).to.have.length(1);
      expect(await readAll(`${topic}.retry.2`)).to.have.length(1);

      fixed = true;
      expect(await events.replay({ ids: [id] })).to.equal(1);
      await until('the replayed event handled', () => handled.length === 1, 60_000);
      expect(handled).to.deep.equal([id]);
    });

    it('must-hold 3: the broker stopped ~30 s while requests publish through the outbox: every request succeeds, every event arrives after, none applied twice', async function () {
      this.timeout(240_000);
      const env = { ...process.env, ...broker.env };
      const file = kernels.sqliteFile();
      const options = kafkaOptions({ relay: { intervalMs: 200 } });
      const consumer = await kernels.boot({ database: { dbName: file }, events: options, setup: recordApplied() });
      const web = await kernels.boot({
        database: { dbName: file },
        events: { ...options, consumers: false },
        extra: [httpPlugin, ordersRoute()],
      });
      const ids: string[] = [];
      const post = async (seq: number) => {
        const res = await web.inject({ method: 'POST', url: `/api/v1/orders/o-out?seq=${seq}` });
        expect(res.statusCode, res.body).to.equal(201);
        ids.push((res.json() as { eventId: string }).eventId);
      };
      let seq = 0;
      await post(++seq);
      await run('sh', [path.join(ROOT, broker.script), 'stop', '--keep-data'], { env });
      try {
        const outageEnds = Date.now() + 30_000;
        while (Date.now() < outageEnds) {
          await post(++seq);
          await new Promise((r) => setTimeout(r, 500));
        }
        expect((await web.get(EventsToken).outboxStats())?.depth).to.be.greaterThan(0);
      } finally {
        await run('sh', [path.join(ROOT, broker.script), 'start', '--keep-data'], { env });
      }
      await post(++seq);
      // A timeout says which side stalled: the outbox (relay) or the group (consumer), and what they logged.
      const state = async () =>
        `applied ${(await applied(consumer)).length} of ${ids.length}; outbox ${JSON.stringify(await web.get(EventsToken).outboxStats())}; ` +
        `lag ${JSON.stringify(await consumer.get(EventsToken).lag())}\n${kernels.problems()}`;
      await explained(state, () =>
        until('every event applied', async () => (await applied(consumer)).length >= ids.length, 180_000),
      );
      await explained(state, () =>
        until('the outbox drained', async () => (await web.get(EventsToken).outboxStats())?.depth === 0, 60_000),
      );
      const done = await applied(consumer);
      expect(done).to.have.length(ids.length);
      expect(new Set(done)).to.deep.equal(new Set(ids));
    });

    it('must-hold 4: two instances relaying one outbox send no event twice and keep per-key order', async () => {
      const file = kernels.sqliteFile();
      const options = kafkaOptions({ consumers: false, relay: { intervalMs: 20, batchSize: 5 } });
      const a = await kernels.boot({ database: { dbName: file }, events: options });
      const b = await kernels.boot({ database: { dbName: file }, events: options });
      const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
      const perKey = 50;
      await Promise.all(
        keys.map(async (key, i) => {
          for (let seq = 1; seq <= perKey; seq++)
            await (i % 2 ? a : b).get(EventsToken).publish(OrderPlaced, { orderId: key, seq }, { key });
        }),
      );
      await until('the outbox drained', async () => (await a.get(EventsToken).outboxStats())?.depth === 0, 60_000);
      const records = await readAll(a.get(EventsToken).topicOf('orders.placed'));
      const ids = records.map((r) => r.headers[HEADERS.id]);
      expect(records).to.have.length(keys.length * perKey);
      expect(new Set(ids).size).to.equal(keys.length * perKey);
      const byKey = seqsByKey(records);
      for (const key of keys)
        expect(byKey.get(key), key).to.deep.equal(Array.from({ length: perKey }, (_, i) => i + 1));
    });

    it('must-hold 7: SIGTERM under load with consumers running: exit 0, offsets committed, the outbox left to the next instance; nothing lost or applied twice', async () => {
      const file = kernels.sqliteFile();
      const options = kafkaOptions({ relay: { intervalMs: 20 } });
      const first = await kernels.boot({ database: { dbName: file }, events: options, setup: recordApplied() });
      const events = first.get(EventsToken);
      const topic = events.topicOf('orders.placed');
      const ids: string[] = [];
      let refused = 0;
      // Load that goes on through the shutdown: a publish refused once the plugin stopped is not an event.
      const producer = (async () => {
        for (let seq = 1; refused === 0; seq++) {
          try {
            ids.push(await events.publish(OrderPlaced, { orderId: `o-${seq % 4}`, seq }, { key: `o-${seq % 4}` }));
          } catch {
            refused++;
          }
          // SQLite answers without I/O: yield to timers and sockets as a request loop would.
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      await until('some events applied', async () => (await applied(first)).length >= 20, 60_000);
      // The real signal, to this process: the kernel's own handler stops it and reports the exit code.
      const exits: number[] = [];
      const off = first.kernel.handleSignals((code) => exits.push(code));
      try {
        process.kill(process.pid, 'SIGTERM');
        await until('the kernel to exit', () => exits.length > 0, 60_000);
      } finally {
        off();
      }
      expect(exits).to.deep.equal([0]);
      await producer;
      // Offsets committed at stop: what the group still has to read is exactly what was not applied.
      const kafka = createKafkaDriver({ brokers: BROKERS, clientId: 'gantry-test-lag' });
      await kafka.connect();
      const onTopic = (await readAll(topic)).length;
      const lag = await kafka.lag(`${options.group}.orders.placed`, [topic]);
      await kafka.close();

      const inspector = await kernels.boot({
        database: { dbName: file },
        events: { ...options, consumers: false, relay: { enabled: false } },
      });
      const appliedByFirst = (await applied(inspector)).length;
      expect(lag.partitions.reduce((s, p) => s + p.lag, 0)).to.equal(onTopic - appliedByFirst);
      const second = await kernels.boot({ database: { dbName: file }, events: options, setup: recordApplied() });
      await until('every event applied', async () => (await applied(second)).length >= ids.length, 120_000);
      await until('the outbox drained', async () => (await second.get(EventsToken).outboxStats())?.depth === 0, 60_000);
      const done = await applied(second);
      expect(done).to.have.length(ids.length);
      expect(new Set(done)).to.deep.equal(new Set(ids));
    });
  });
}
