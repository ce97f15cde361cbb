// The outbox behaviour every database engine must have, run on SQLite (events.test.ts) and on the real
// PostgreSQL (events.pg.test.ts).
import { definePlugin, silentLogger } from '@gantry/core';
import { DatabaseToken, plugin as databasePlugin } from '@gantry/plugin-database';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import {
  createMemoryDriver,
  EventsToken,
  KafkaEventsErrors,
  memoryBroker,
  OutboxRelay,
  OutboxStore,
  outboxMigrations,
  type EventDriver,
} from '../../src/index.js';
import { brokerName, Kernels, OrderPlaced, rejection, until } from './kit.js';

/** A database engine the suite runs against. */
export interface OutboxTarget {
  readonly driver: 'sqlite' | 'postgresql';
  /** Options of the database plugin for a new, empty database several kernels can open. */
  fresh(kernels: Kernels): Promise<Record<string, unknown>>;
  /** Runs after the suite (drop schemas). */
  cleanup?(): Promise<void>;
}

/** `name`, schema-qualified when the options carry a schema (raw SQL does not get the ORM's search_path). */
export function qualified(database: Record<string, unknown>, name: string): string {
  return typeof database.schema === 'string' ? `"${database.schema}".${name}` : name;
}

/** Registers the outbox suite for `target`. */
/** Each key's records, in offset order, carry seq 1..perKey exactly once. */
function expectInOrderPerKey(
  records: readonly { key: string | null; offset: string; value: Buffer }[],
  keys: readonly string[],
  perKey: number,
): void {
  for (const key of keys) {
    const seqs = records
      .filter((r) => r.key === key)
      .sort((x, y) => Number(x.offset) - Number(y.offset))
      .map((r) => (JSON.parse(r.value.toString()) as { seq: number }).seq);
    expect(seqs, key).to.deep.equal(Array.from({ length: perKey }, (_, i) => i + 1));
  }
}

export function outboxSuite(target: OutboxTarget): void {
  describe(`kafka-events: transactional outbox on ${target.driver}`, () => {
    const kernels = new Kernels();
    afterEach(() => kernels.stopAll());
    after(() => target.cleanup?.());

    async function count(tk: TestKernel, sql: string): Promise<number> {
      const [row] = await tk.get(DatabaseToken).em().execute<{ n: number | string }[]>(sql);
      return Number(row!.n);
    }

    /**
     * An instance with `count` events of `key` committed and no relay running, and a relay of the test's
     * own on its database (batches of 2, not started): its first claim is the first one to see the rows.
     */
    async function queuedWithOwnRelay(broker: string, key: string, count: number, leaseMs: number) {
      const tk = await kernels.boot({
        database: await target.fresh(kernels),
        events: { memoryBroker: broker, consumers: false, relay: { enabled: false } },
      });
      const events = tk.get(EventsToken);
      await tk.get(DatabaseToken).transaction(async () => {
        for (let seq = 1; seq <= count; seq++) await events.publish(OrderPlaced, { orderId: key, seq }, { key });
      });
      const relay = new OutboxRelay({
        db: tk.get(DatabaseToken),
        driver: createMemoryDriver({ broker: memoryBroker(broker) }),
        logger: silentLogger(),
        intervalMs: 10,
        batchSize: 2,
        leaseMs,
        sendTimeoutMs: 1_000,
        pruneAfterMs: 60_000,
      });
      return { events, relay };
    }

    it('writes the row in the caller’s transaction: a commit publishes, a rollback publishes nothing', async () => {
      const broker = brokerName();
      const database = await target.fresh(kernels);
      const t = (name: string) => qualified(database, name);
      const tk = await kernels.boot({ database, events: { memoryBroker: broker } });
      const db = tk.get(DatabaseToken);
      const events = tk.get(EventsToken);
      const id = await db.transaction(async (em) => {
        await em.execute(`insert into ${t('note')} (id, body) values ('n1', 'kept')`);
        return events.publish(OrderPlaced, { orderId: 'o-7', seq: 1 }, { key: 'o-7' });
      });
      const boom = new Error('rolled back on purpose');
      let rolledBackId: string | undefined;
      const err = await db
        .transaction(async (em) => {
          await em.execute(`insert into ${t('note')} (id, body) values ('n2', 'lost')`);
          rolledBackId = await events.publish(OrderPlaced, { orderId: 'o-8', seq: 1 }, { key: 'o-8' });
          throw boom;
        })
        .catch((e: unknown) => e);
      expect(err).to.equal(boom);
      const b = memoryBroker(broker);
      await until('the committed event', () => b.records('orders.placed').length === 1);
      await until('the row marked sent', async () => (await events.outboxStats())?.depth === 0);
      expect(b.records('orders.placed').map((r) => r.headers.ce_id)).to.deep.equal([id]);
      expect(await count(tk, `select count(*) as n from ${t('gantry_outbox')} where id = '${rolledBackId}'`)).to.equal(
        0,
      );
      expect(await count(tk, `select count(*) as n from ${t('note')}`)).to.equal(1);
    });

    it('keeps publishing through the outbox while the broker is down (readiness degraded) and delivers after', async () => {
      const broker = brokerName();
      const handled: number[] = [];
      const tk = await kernels.boot({
        database: await target.fresh(kernels),
        events: { memoryBroker: broker },
        setup: ({ events }) => events.on(OrderPlaced, (e) => void handled.push(e.data.seq)),
      });
      const b = memoryBroker(broker);
      b.down();
      try {
        const events = tk.get(EventsToken);
        for (let seq = 1; seq <= 5; seq++) await events.publish(OrderPlaced, { orderId: 'o-10', seq }, { key: 'o-10' });
        const ready = await tk.kernel.health.readiness();
        expect(ready.status).to.equal('ready');
        expect(ready.checks['kafka-events']?.status).to.equal('degraded');
        expect((await events.outboxStats())?.depth).to.equal(5);
        b.up();
        await until('every event handled', () => handled.length === 5);
        expect(handled).to.deep.equal([1, 2, 3, 4, 5]);
        expect((await events.outboxStats())?.depth).to.equal(0);
      } finally {
        b.up();
      }
    });

    it('answers 503 BROKER_UNAVAILABLE for a direct publish (outbox off) while the broker is down', async () => {
      const broker = brokerName();
      const tk = await kernels.boot({
        database: await target.fresh(kernels),
        events: { memoryBroker: broker, outbox: false },
      });
      memoryBroker(broker).down();
      try {
        const err = await rejection(tk.get(EventsToken).publish(OrderPlaced, { orderId: 'o-11', seq: 1 }));
        expect(err.code).to.equal(KafkaEventsErrors.BROKER_UNAVAILABLE.code);
        expect(err.status).to.equal(503);
        expect((await tk.kernel.health.readiness()).status).to.equal('not_ready');
      } finally {
        memoryBroker(broker).up();
      }
    });

    it('upgrades an outbox of the first schema: its unsent rows are sent once, in order per key; sent ones are not', async () => {
      const broker = brokerName();
      const database = await target.fresh(kernels);
      const t = (name: string) => qualified(database, name);
      // The outbox as the first migration left it: sent_at and the lease on the event's own row.
      const old = await createTestKernel({
        plugins: [
          databasePlugin,
          definePlugin({
            name: 'first-schema',
            version: '1.0.0',
            kernel: '^0.1.0',
            dependsOn: ['database'],
            register(ctx) {
              ctx.container.get(DatabaseToken).registerMigrations('kafka-events', outboxMigrations.slice(0, 1));
            },
          }),
        ],
        config: { database },
      });
      try {
        const now = Date.now();
        const rows: [string, string, number | null, string | null, number | null][] = [
          ['old-1', 'o-1', now - 1_000, null, null], // sent
          ['old-2', 'o-1', null, 'relay-gone-0#1', now - 1], // claimed by a relay that died, lease over
          ['old-3', 'o-1', null, null, null],
          ['old-4', 'o-2', null, null, null],
        ];
        for (const [id, key, sentAt, owner, until] of rows)
          await old
            .get(DatabaseToken)
            .em()
            .execute(
              `insert into ${t('gantry_outbox')} (id, topic, event_key, lock_key, headers, payload, created_at, sent_at, lease_owner, lease_until)
               values (?, 'orders.placed', ?, ?, ?, ?, ?, ?, ?, ?)`,
              [id, key, key, JSON.stringify({ ce_id: id }), '{}', now, sentAt, owner, until],
              'run',
            );
      } finally {
        await old.stop();
      }
      const tk = await kernels.boot({ database, events: { memoryBroker: broker, consumers: false } });
      await until('the unsent rows', () => memoryBroker(broker).records('orders.placed').length >= 3);
      await until('an empty queue', async () => (await tk.get(EventsToken).outboxStats())?.depth === 0);
      const sent = memoryBroker(broker)
        .records('orders.placed')
        .map((r) => `${r.key}:${r.headers.ce_id}`);
      expect(sent.filter((s) => s.startsWith('o-1:'))).to.deep.equal(['o-1:old-2', 'o-1:old-3']);
      expect(sent.filter((s) => s.startsWith('o-2:'))).to.deep.equal(['o-2:old-4']);
      expect(sent).to.have.length(3);
      // Sent events stay until pruned (pruneAfterMs), the upgraded ones included.
      expect(await count(tk, `select count(*) as n from ${t('gantry_outbox')}`)).to.equal(4);
    });

    it('prunes sent events past their retention, never a pending one', async () => {
      const broker = brokerName();
      const database = await target.fresh(kernels);
      const tk = await kernels.boot({ database, events: { memoryBroker: broker, consumers: false } });
      const events = tk.get(EventsToken);
      for (const seq of [1, 2]) await events.publish(OrderPlaced, { orderId: 'o-20', seq }, { key: 'o-20' });
      await until('both sent', async () => (await events.outboxStats())?.depth === 0);
      memoryBroker(broker).down();
      try {
        await events.publish(OrderPlaced, { orderId: 'o-20', seq: 3 }, { key: 'o-20' });
        const store = new OutboxStore(tk.get(DatabaseToken));
        expect(await store.prune(60_000, 60_000)).to.equal(0); // younger than the retention
        expect(await store.prune(0, 60_000)).to.equal(2);
        expect(await count(tk, `select count(*) as n from ${qualified(database, 'gantry_outbox')}`)).to.equal(1);
        expect((await events.outboxStats())?.depth).to.equal(1);
      } finally {
        memoryBroker(broker).up();
      }
      await until('the last one sent', () => memoryBroker(broker).records('orders.placed').length === 3);
    });

    it('two relays on one outbox never send a row twice and keep per-key order', async () => {
      const broker = brokerName();
      const database = await target.fresh(kernels);
      const events = {
        memoryBroker: broker,
        consumers: false,
        relay: { intervalMs: 10, batchSize: 3, leaseMs: 5_000 },
      };
      const a = await kernels.boot({ database, events });
      const b = await kernels.boot({ database, events });
      const keys = ['k1', 'k2', 'k3', 'k4', 'k5'];
      const perKey = 40;
      await Promise.all(
        keys.map(async (key, i) => {
          const tk = i % 2 === 0 ? a : b;
          for (let seq = 1; seq <= perKey; seq++)
            await tk.get(EventsToken).publish(OrderPlaced, { orderId: key, seq }, { key });
        }),
      );
      const total = keys.length * perKey;
      await until('every row sent', () => memoryBroker(broker).records('orders.placed').length >= total);
      await until('an empty outbox', async () => (await a.get(EventsToken).outboxStats())?.depth === 0);
      const all = memoryBroker(broker).records('orders.placed');
      const ids = all.map((r) => r.headers.ce_id);
      expect(new Set(ids).size).to.equal(total);
      expect(all).to.have.length(total);
      expectInOrderPerKey(all, keys, perKey);
    });

    it('a broker failing while batches are in flight: nothing is lost, sent twice or reordered per key', async () => {
      const broker = brokerName();
      const database = await target.fresh(kernels);
      const tk = await kernels.boot({
        database,
        events: { memoryBroker: broker, consumers: false, relay: { intervalMs: 10, batchSize: 4 } },
      });
      const b = memoryBroker(broker);
      const keys = ['f1', 'f2', 'f3'];
      const perKey = 60;
      // The broker goes down and up every few milliseconds while the relay forwards (failed sends are
      // refused whole by the in-process broker, so each event must arrive exactly once, in order).
      let flapping = true;
      const flapper = (async () => {
        while (flapping) {
          b.down();
          await new Promise((r) => setTimeout(r, 3));
          b.up();
          await new Promise((r) => setTimeout(r, 7));
        }
      })();
      try {
        const events = tk.get(EventsToken);
        await Promise.all(
          keys.map(async (key) => {
            for (let seq = 1; seq <= perKey; seq++) await events.publish(OrderPlaced, { orderId: key, seq }, { key });
          }),
        );
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        flapping = false;
        await flapper;
        b.up();
      }
      const total = keys.length * perKey;
      await until('every row sent', () => memoryBroker(broker).records('orders.placed').length >= total);
      await until('an empty outbox', async () => (await tk.get(EventsToken).outboxStats())?.depth === 0);
      const all = memoryBroker(broker).records('orders.placed');
      expect(all).to.have.length(total);
      expectInOrderPerKey(all, keys, perKey);
    });

    it('a claim reads every pending row not in flight, one below or between the rows in flight included', async () => {
      const broker = brokerName();
      const { relay } = await queuedWithOwnRelay(broker, 'g-1', 5, 5_000);
      const sequences = (rows: readonly { sequence: number }[] | undefined) => rows?.map((r) => r.sequence);
      const all = sequences(await relay.store.claimBatch(relay.owner, 5_000, 10))!;
      expect(all).to.have.length(5);
      const [s1, s2, s3, s4, s5] = all as [number, number, number, number, number];
      // Rows 2 and 4 are with the broker; 1 and 3 became visible after they were read (PostgreSQL
      // numbers rows before they commit): the next read takes 1, 3 and 5 in order, skipping none.
      expect(sequences(await relay.store.claimBatch(relay.owner, 5_000, 10, [s2, s4]))).to.deep.equal([s1, s3, s5]);
      expect(sequences(await relay.store.claimBatch(relay.owner, 5_000, 2, [s2, s4]))).to.deep.equal([s1, s3]);
      expect(sequences(await relay.store.claimBatch(relay.owner, 5_000, 10, all))).to.deep.equal([]);
    });

    it('a claim failing while a batch is in flight: that batch is still marked sent, and the relay recovers', async () => {
      const broker = brokerName();
      const { events, relay } = await queuedWithOwnRelay(broker, 'c-1', 4, 5_000);
      const store = relay.store;
      const claim = store.claimBatch.bind(store);
      let claims = 0;
      // The first claim works; every later one fails as an unavailable database would.
      store.claimBatch = async (...args: Parameters<typeof claim>) => {
        if (++claims > 1) throw new Error('database unavailable');
        return claim(...args);
      };
      relay.start();
      try {
        // The batch claimed before the failures reached the broker and is marked, not left pending.
        await until('the first batch marked sent', async () => (await events.outboxStats())?.depth === 2);
        await until('a failed claim', () => relay.failing() !== undefined);
        expect(memoryBroker(broker).records('orders.placed')).to.have.length(2);
        expect(claims).to.be.greaterThan(1);
        store.claimBatch = claim;
        await until('the rest sent once the claims work again', async () => (await events.outboxStats())?.depth === 0);
        expect(
          memoryBroker(broker)
            .records('orders.placed')
            .map((r) => (JSON.parse(r.value.toString()) as { seq: number }).seq),
        ).to.deep.equal([1, 2, 3, 4]);
      } finally {
        await relay.stop();
      }
    });

    it('relays from one instance at a time: a standby takes over at once when the relay stops, not before', async () => {
      const broker = brokerName();
      const database = await target.fresh(kernels);
      // A lease far longer than the test: a takeover can only come from the relay giving it up.
      const events = { memoryBroker: broker, consumers: false, relay: { intervalMs: 10, leaseMs: 120_000 } };
      const a = await kernels.boot({ database, events });
      const b = await kernels.boot({ database, events });
      const holder = async (tk: TestKernel = a): Promise<string | null> =>
        (
          await tk
            .get(DatabaseToken)
            .em()
            .execute<{ owner: string | null }[]>(`select owner from ${qualified(database, 'gantry_outbox_relay')}`)
        )[0]!.owner;
      await until('a relay holding the lease', async () => (await holder()) !== null);
      const owners = new Map([a, b].map((tk) => [tk.get(EventsToken).relay!.owner, tk]));
      const relay = owners.get((await holder())!)!;
      const standby = relay === a ? b : a;
      await standby.get(EventsToken).publish(OrderPlaced, { orderId: 's-1', seq: 1 }, { key: 's-1' });
      await until('sent by the relay', () => memoryBroker(broker).records('orders.placed').length === 1);
      expect(await holder()).to.equal(relay.get(EventsToken).relay!.owner);
      await relay.stop();
      await standby.get(EventsToken).publish(OrderPlaced, { orderId: 's-1', seq: 2 }, { key: 's-1' });
      await until('sent by the standby', () => memoryBroker(broker).records('orders.placed').length === 2);
      expect(await holder(standby)).to.equal(standby.get(EventsToken).relay!.owner);
    });

    it('a relay that loses its lease settles what it handed to the broker, sends nothing more, and starts over from the oldest pending row', async () => {
      const broker = brokerName();
      const { events, relay } = await queuedWithOwnRelay(broker, 'l-1', 6, 400);
      const store = relay.store;
      const claim = store.claimBatch.bind(store);
      let claims = 0;
      // The first claim holds the lease; then another instance does (as after a pause past the lease).
      store.claimBatch = async (...args: Parameters<typeof claim>) => (++claims > 1 ? undefined : claim(...args));
      relay.start();
      const seqs = () =>
        memoryBroker(broker)
          .records('orders.placed')
          .map((r) => (JSON.parse(r.value.toString()) as { seq: number }).seq);
      try {
        await until('the first batch marked sent', async () => (await events.outboxStats())?.depth === 4);
        await until('a few polls as a standby', () => claims >= 4);
        expect(seqs()).to.deep.equal([1, 2]);
        store.claimBatch = claim;
        await until('the rest sent with the lease back', async () => (await events.outboxStats())?.depth === 0);
        expect(seqs()).to.deep.equal([1, 2, 3, 4, 5, 6]);
      } finally {
        await relay.stop();
      }
    });

    if (target.driver === 'postgresql')
      it('sends an event committed after the relay read past its sequence (PostgreSQL numbers rows before they commit)', async () => {
        const broker = brokerName();
        const tk = await kernels.boot({
          database: await target.fresh(kernels),
          events: { memoryBroker: broker, consumers: false, relay: { intervalMs: 10, batchSize: 10 } },
        });
        const events = tk.get(EventsToken);
        let commit!: () => void;
        const held = new Promise<void>((resolve) => {
          commit = resolve;
        });
        let published!: () => void;
        const numbered = new Promise<void>((resolve) => {
          published = resolve;
        });
        // A takes its sequence first and commits last.
        const late = tk.get(DatabaseToken).transaction(async () => {
          await events.publish(OrderPlaced, { orderId: 'late-a', seq: 1 }, { key: 'late-a' });
          published();
          await held;
        });
        await numbered;
        await events.publish(OrderPlaced, { orderId: 'late-b', seq: 1 }, { key: 'late-b' });
        const sent = () =>
          memoryBroker(broker)
            .records('orders.placed')
            .map((r) => r.key);
        await until('B sent', () => sent().includes('late-b'));
        commit();
        await late;
        await until('A sent after it', () => sent().includes('late-a'));
        expect(sent()).to.deep.equal(['late-b', 'late-a']);
        await until('an empty queue', async () => (await events.outboxStats())?.depth === 0);
      });

    it('a relay that dies between the broker ack and the mark: the row is sent again, the transactional handler applies it once', async () => {
      const broker = brokerName();
      const database = await target.fresh(kernels);
      const t = (name: string) => qualified(database, name);
      const applied: string[] = [];
      const consumer = await kernels.boot({
        database,
        events: { memoryBroker: broker, relay: { enabled: false } },
        setup: ({ events }) =>
          events.on(
            OrderPlaced,
            async (e, { em }) => {
              await em!.execute(`insert into ${t('applied')} (event_id, order_id, seq) values (?, ?, ?)`, [
                e.id,
                e.data.orderId,
                e.data.seq,
              ]);
              applied.push(e.id);
            },
            { transactional: true },
          ),
      });
      const publisher = await kernels.boot({
        database,
        events: { memoryBroker: broker, consumers: false, relay: { enabled: false } },
      });
      const id = await publisher.get(EventsToken).publish(OrderPlaced, { orderId: 'o-12', seq: 1 }, { key: 'o-12' });

      // The broker acknowledged, then the relay's process died before marking the row: its lease stays
      // until it expires.
      const real = createMemoryDriver({ broker: memoryBroker(broker) });
      const dying: EventDriver = {
        ...real,
        send: async (messages) => {
          await real.send(messages);
          return new Promise<void>(() => undefined);
        },
      };
      const db = publisher.get(DatabaseToken);
      const zombie = new OutboxRelay({
        db,
        driver: dying,
        logger: silentLogger(),
        intervalMs: 10,
        batchSize: 10,
        leaseMs: 300,
        sendTimeoutMs: 1_000,
        pruneAfterMs: 60_000,
      });
      void zombie.relayOnce().catch(() => undefined);
      await until('the first delivery', () => applied.length === 1);
      expect((await publisher.get(EventsToken).outboxStats())?.depth).to.equal(1);
      // The next instance's relay sends the row again (after the lease) and marks it.
      await kernels.boot({
        database,
        events: { memoryBroker: broker, consumers: false, relay: { intervalMs: 20, leaseMs: 300 } },
      });
      await until('the row marked sent', async () => (await publisher.get(EventsToken).outboxStats())?.depth === 0);
      expect(
        memoryBroker(broker)
          .records('orders.placed')
          .filter((m) => m.headers.ce_id === id),
      ).to.have.length(2);
      await until('both copies consumed', async () =>
        (await consumer.get(EventsToken).lag()).every((g) => g.lag === 0),
      );
      const rows = await db.em().execute<{ event_id: string }[]>(`select event_id from ${t('applied')}`);
      expect(rows.map((r) => r.event_id)).to.deep.equal([id]);
      expect(applied).to.deep.equal([id]);
      expect(await count(publisher, `select count(*) as n from ${t('gantry_processed_event')}`)).to.equal(1);
    });
  });
}
