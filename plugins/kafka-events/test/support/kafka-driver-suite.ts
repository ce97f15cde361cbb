import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { GantryError } from '@gantry/core';
import { memoryLogger, type LogLine } from '@gantry/testing';
import { expect } from 'chai';
import type { EventDriver, IncomingMessage, OutgoingMessage, Subscription } from '../../src/driver.js';
import { createKafkaDriver, type KafkaDriverOptions } from '../../src/drivers/kafka.js';

const run = promisify(execFile);
/** The repository root (this file runs from plugins/kafka-events/dist/test/support/). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../../', import.meta.url));

/** A broker the shared suite runs against, and the service script that starts and stops it. */
export interface BrokerUnderTest {
  /** Suite title, e.g. "Kafka 3.9.1 (ZooKeeper mode)". */
  readonly title: string;
  /** `host:port` of the running broker. */
  readonly bootstrap: string;
  /** The service script, relative to the repository root, e.g. `test/services/kafka.sh`. */
  readonly script: string;
}

/** Polls `check` until it returns something other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not true within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs the service script (`stop --keep-data`, `start --keep-data`, `status`). */
export async function service(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('sh', [script, ...args], { cwd: REPO_ROOT, timeout: 120_000 });
  return stdout.trim();
}

function message(
  topic: string,
  key: string | null,
  value: unknown,
  headers: Record<string, string> = {},
): OutgoingMessage {
  return { topic, key, value: Buffer.from(JSON.stringify(value)), headers };
}

function body(m: IncomingMessage): unknown {
  return JSON.parse(m.value.toString('utf8'));
}

/** The kafkajs driver against one real broker: the same cases for every broker mode. */
export function kafkaDriverSuite(broker: BrokerUnderTest): void {
  describe(`kafka driver against ${broker.title}`, () => {
    const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
    const topicName = (name: string) => `gantry-test-${runId}-${name}`;
    const drivers: EventDriver[] = [];
    const subscriptions: Subscription[] = [];
    let driver: EventDriver;

    function newDriver(options: Partial<KafkaDriverOptions> = {}): EventDriver {
      const d = createKafkaDriver({ brokers: [broker.bootstrap], clientId: `gantry-test-${runId}`, ...options });
      drivers.push(d);
      return d;
    }

    // The first driver meets the broker fresh (coordinator loading): those lines must not be errors.
    const firstLines: LogLine[] = [];

    before(async () => {
      driver = newDriver({ logger: memoryLogger(firstLines) });
      await driver.connect();
    });

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop().catch(() => undefined)));
    });

    after(async () => {
      await Promise.all(drivers.map((d) => d.close().catch(() => undefined)));
    });

    it('sends and consumes a record with its key and headers', async () => {
      const topic = topicName('round-trip');
      await driver.ensureTopics([{ topic, partitions: 3 }]);
      const got: IncomingMessage[] = [];
      subscriptions.push(
        await driver.consume({
          groupId: topicName('round-trip-group'),
          topics: [topic],
          handle: async (m) => {
            got.push(m);
          },
        }),
      );
      await driver.send([
        message(topic, 'order-1', { n: 1 }, { ce_type: 'order.created', traceparent: '00-abc-def-01' }),
        message(topic, null, { n: 2 }, {}),
      ]);
      await eventually('both records consumed', () => got.length >= 2);
      const keyed = got.find((m) => m.key === 'order-1');
      expect(keyed, 'the keyed record').to.not.equal(undefined);
      expect(body(keyed as IncomingMessage)).to.deep.equal({ n: 1 });
      expect(keyed?.headers).to.deep.equal({ ce_type: 'order.created', traceparent: '00-abc-def-01' });
      expect(keyed?.topic).to.equal(topic);
      expect(keyed?.offset).to.match(/^\d+$/);
      expect(keyed?.timestamp).to.be.a('number').greaterThan(0);
      const unkeyed = got.find((m) => m.key === null);
      expect(body(unkeyed as IncomingMessage)).to.deep.equal({ n: 2 });
      expect(unkeyed?.headers).to.deep.equal({});
      const errors = firstLines.filter((l) => l.level === 'error' || l.level === 'fatal');
      expect(errors, JSON.stringify(errors, null, 1)).to.deep.equal([]);
    });

    it('puts one key on one partition and keeps its order across concurrent sends', async () => {
      const topic = topicName('order');
      await driver.ensureTopics([{ topic, partitions: 4 }]);
      const keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
      // 60 concurrent send() calls: coalesced into few requests, each caller resolves on its own ack.
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 60; i++) {
        const key = keys[i % keys.length] as string;
        sends.push(driver.send([message(topic, key, { key, i })]));
      }
      await Promise.all(sends);
      const got: IncomingMessage[] = [];
      subscriptions.push(
        await driver.consume({
          groupId: topicName('order-group'),
          topics: [topic],
          handle: async (m) => {
            got.push(m);
          },
        }),
      );
      await eventually('all 60 records consumed', () => got.length >= 60);
      expect(got).to.have.length(60);
      for (const key of keys) {
        const mine = got.filter((m) => m.key === key);
        expect(new Set(mine.map((m) => m.partition)).size, `partitions of ${key}`).to.equal(1);
        const order = mine.map((m) => (body(m) as { i: number }).i);
        expect(order, `order of ${key}`).to.deep.equal([...order].sort((a, b) => a - b));
        expect(order).to.have.length(12);
      }
      expect(new Set(got.map((m) => m.partition)).size, 'keys spread over partitions').to.be.greaterThan(1);
    });

    it('commits only after the handler resolved: a failed record comes again, a handled one never', async () => {
      const topic = topicName('commit');
      const groupId = topicName('commit-group');
      await driver.ensureTopics([{ topic, partitions: 1 }]);
      await driver.send([message(topic, 'k', 'a'), message(topic, 'k', 'b'), message(topic, 'k', 'c')]);

      // First member: "a" succeeds, "b" always fails (retried from its offset), "c" waits behind it.
      const first: string[] = [];
      const sub1 = await driver.consume({
        groupId,
        topics: [topic],
        retryDelayMs: 200,
        handle: async (m) => {
          const v = body(m) as string;
          first.push(v);
          if (v === 'b') throw new Error('handler failed on purpose');
        },
      });
      subscriptions.push(sub1);
      await eventually('"b" delivered again after its failure', () => first.filter((v) => v === 'b').length >= 3);
      await sub1.stop();
      expect(first.filter((v) => v === 'a')).to.have.length(1);
      expect(first, 'order is kept: nothing after the failing record').to.not.include('c');

      const lagAfterFirst = await eventually('lag of the stopped group', async () => {
        const lag = await driver.lag(groupId, [topic]);
        return lag.partitions[0]?.lag === 2 ? lag : undefined;
      });
      expect(lagAfterFirst).to.deep.equal({ groupId, partitions: [{ topic, partition: 0, lag: 2 }] });

      // A restarted member: the failed record is not lost, the handled one is not redelivered.
      const second: string[] = [];
      subscriptions.push(
        await driver.consume({
          groupId,
          topics: [topic],
          handle: async (m) => {
            second.push(body(m) as string);
          },
        }),
      );
      await eventually('"c" consumed by the restarted member', () => second.includes('c'));
      expect(second).to.deep.equal(['b', 'c']);
      await eventually(
        'lag 0 once committed',
        async () => (await driver.lag(groupId, [topic])).partitions[0]?.lag === 0,
      );
    });

    it('retries one partition without holding up the others', async () => {
      const topic = topicName('isolation');
      await driver.ensureTopics([{ topic, partitions: 2 }]);
      // Two keys that land on different partitions (murmur2 is deterministic: found by writing probes).
      const probeKeys = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
      await driver.send(probeKeys.map((k) => message(topic, k, 'probe')));
      const probes = await driver.read(topic);
      const blockedKey = probes[0]?.key as string;
      const freeKey = probes.find((m) => m.partition !== probes[0]?.partition)?.key as string;
      expect(freeKey, 'a key on the other partition').to.be.a('string');
      let failures = 0;
      const handled: string[] = [];
      subscriptions.push(
        await driver.consume({
          groupId: topicName('isolation-group'),
          topics: [topic],
          retryDelayMs: 300,
          handle: async (m) => {
            if (body(m) === 'block') {
              failures++;
              throw new Error('this partition is stuck');
            }
            handled.push(`${m.key}:${String(body(m))}`);
          },
        }),
      );
      await eventually('the probes handled', () => handled.length >= probeKeys.length);
      await driver.send([message(topic, blockedKey, 'block'), message(topic, blockedKey, 'behind')]);
      await eventually('the blocking record failed', () => failures > 0);
      for (let i = 0; i < 5; i++) await driver.send([message(topic, freeKey, `free-${i}`)]);
      await eventually('the other partition keeps going', () => handled.includes(`${freeKey}:free-4`));
      await eventually('the blocking record is retried', () => failures >= 2);
      expect(handled, 'nothing behind the failing record was handled').to.not.include(`${blockedKey}:behind`);
    });

    it('reads a topic without a group, up to a limit, and nothing from a missing topic', async () => {
      const topic = topicName('read');
      await driver.ensureTopics([{ topic, partitions: 1 }]);
      await driver.send([1, 2, 3, 4, 5].map((n) => message(topic, null, n, { n: String(n) })));
      const three = await driver.read(topic, { limit: 3 });
      expect(three.map(body)).to.deep.equal([1, 2, 3]);
      expect(three[0]?.headers).to.deep.equal({ n: '1' });
      const all = await driver.read(topic);
      expect(all.map(body)).to.deep.equal([1, 2, 3, 4, 5]);
      expect(all.map((m) => m.offset)).to.deep.equal(['0', '1', '2', '3', '4']);
      expect(await driver.read(topicName('never-created'))).to.deep.equal([]);
    });

    it('replaces a producer whose sequence the broker refused: the next send goes out with a new producer id', async () => {
      const topic = topicName('sequence');
      const lines: LogLine[] = [];
      const d = newDriver({ logger: memoryLogger(lines) });
      await d.ensureTopics([{ topic, partitions: 1 }]);
      await d.send([message(topic, 'k', 1)]);
      // What kafkajs rejects with when the broker answers OUT_OF_ORDER_SEQUENCE_NUMBER (after a broker restart
      // that kept less than the producer sent): kafkajs keeps that producer's sequence, so the same producer
      // object is refused again at every later send.
      const kafkajs = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs');
      const refused = new kafkajs.KafkaJSProtocolError({
        type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
        code: 45,
        retriable: false,
        message: 'The broker received an out of order sequence number',
      } as unknown as Error);
      const stuck = (d as unknown as { producer: { sendBatch: () => Promise<unknown> } }).producer;
      stuck.sendBatch = () => Promise.reject(refused);
      const first = await d.send([message(topic, 'k', 2)]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((first as GantryError).code, String(first)).to.equal('GANTRY_KAFKA_EVENTS_BROKER_REJECTED');
      await d.send([message(topic, 'k', 3)]);
      expect((await d.read(topic)).map(body)).to.deep.equal([1, 3]);
      expect(lines.filter((l) => l.msg.includes('new producer id')).length).to.equal(1);
    });

    it('answers ping, and rejects ping on a dead address with the coded error', async () => {
      await driver.ping(5000);
      const dead = newDriver({ brokers: ['127.0.0.1:1'], connectionTimeoutMs: 500 });
      const error = await dead.ping(1500).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(GantryError.is(error), String(error)).to.equal(true);
      expect((error as GantryError).code).to.equal('GANTRY_KAFKA_EVENTS_BROKER_UNAVAILABLE');
      expect((error as GantryError).message).to.contain('127.0.0.1:1');
    });

    it('refuses bad options and a closed driver with coded errors', async () => {
      expect(() => createKafkaDriver({ brokers: [] })).to.throw(GantryError, /brokers/);
      expect(() => createKafkaDriver({ brokers: ['localhost'] })).to.throw(GantryError, /host:port/);
      const closed = newDriver();
      await closed.close();
      const error = await closed.send([message(topicName('closed'), null, 1)]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as GantryError).code).to.equal('GANTRY_KAFKA_EVENTS_DRIVER_CLOSED');
    });

    it('stops waiting when the signal aborts; a record aborted before its request is never written', async () => {
      const topic = topicName('abort');
      await driver.ensureTopics([{ topic, partitions: 1 }]);
      const slow = newDriver({ lingerMs: 300 });
      await slow.connect();
      const controller = new AbortController();
      const aborted = slow.send([message(topic, null, 'aborted')], { signal: controller.signal });
      const kept = slow.send([message(topic, null, 'kept')]);
      controller.abort(new Error('caller gave up'));
      const error = await aborted.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(error)).to.contain('caller gave up');
      await kept;
      expect((await slow.read(topic)).map(body)).to.deep.equal(['kept']);
    });

    it('sends a batched call without the linger, and what queued before it with it', async () => {
      const topic = topicName('batched');
      await driver.ensureTopics([{ topic, partitions: 1 }]);
      // A linger longer than the test's timeout: only the batched call can make the request go.
      const lingering = newDriver({ lingerMs: 600_000 });
      await lingering.connect();
      const queued = lingering.send([message(topic, 'k', 'queued')]);
      await lingering.send([message(topic, 'k', 'batch-1'), message(topic, 'k', 'batch-2')], { batched: true });
      await queued;
      expect((await lingering.read(topic)).map(body)).to.deep.equal(['queued', 'batch-1', 'batch-2']);
    });

    it('close() lets the running handler finish, commits it, and leaves the group', async () => {
      const topic = topicName('close');
      const groupId = topicName('close-group');
      await driver.ensureTopics([{ topic, partitions: 1 }]);
      await driver.send([message(topic, null, 'slow')]);
      const closing = newDriver();
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let started = false;
      let finished = false;
      await closing.consume({
        groupId,
        topics: [topic],
        handle: async () => {
          started = true;
          await gate;
          finished = true;
        },
      });
      await eventually('the handler started', () => started);
      const closed = closing.close();
      setTimeout(release, 200);
      await closed;
      expect(finished, 'close() waited for the handler').to.equal(true);
      expect((await driver.lag(groupId, [topic])).partitions).to.deep.equal([{ topic, partition: 0, lag: 0 }]);
      // Required after the driver loaded it (with its fixes), as the driver does.
      const kafkajs = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs');
      const admin = new kafkajs.Kafka({ brokers: [broker.bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
      await admin.connect();
      try {
        const { groups } = await admin.describeGroups([groupId]);
        expect(groups[0]?.members, 'members left in the group').to.deep.equal([]);
      } finally {
        await admin.disconnect();
      }
    });

    it('rejects sends while the broker is down, then sends and consumes again after it is back', async function () {
      this.timeout(180_000);
      const status = await service(broker.script, 'status').catch((e: { stdout?: string }) => e.stdout ?? '');
      expect(status, `${broker.script} must have started the broker for this test to stop it`).to.match(/^running \d+/);
      const topic = topicName('outage');
      await driver.ensureTopics([{ topic, partitions: 1 }]);
      const lines: LogLine[] = [];
      const outage = newDriver({ operationTimeoutMs: 4000, logger: memoryLogger(lines) });
      await outage.connect();
      const got: string[] = [];
      await outage.consume({
        groupId: topicName('outage-group'),
        topics: [topic],
        handle: async (m) => {
          got.push(body(m) as string);
        },
      });
      await outage.send([message(topic, 'k', 'before')]);
      await eventually('"before" consumed', () => got.includes('before'));

      await service(broker.script, 'stop', '--keep-data');
      try {
        const error = await outage.send([message(topic, 'k', 'during')]).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((error as GantryError)?.code, String(error)).to.equal('GANTRY_KAFKA_EVENTS_BROKER_UNAVAILABLE');
      } finally {
        await service(broker.script, 'start', '--keep-data');
      }
      // Same driver, same subscription: the producer reconnects and the consumer rejoins by itself.
      await eventually(
        'a send succeeds after the restart',
        async () => {
          await outage.send([message(topic, 'k', 'after')]);
          return true;
        },
        60_000,
      );
      await eventually('"after" consumed by the same subscription', () => got.includes('after'), 60_000);
      // kafkajs's lines about the outage (refused connections, the consumer crash it restarts) are warnings.
      expect(lines.filter((l) => l.level === 'warn').length, 'the outage is logged').to.be.greaterThan(0);
      const errors = lines.filter((l) => l.level === 'error' || l.level === 'fatal');
      expect(errors, JSON.stringify(errors, null, 1)).to.deep.equal([]);
    });
  });
}
