import { type BusEvent, EventBusToken, RequestContext, runWithContext, silentLogger } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as metricsPlugin, MetricsToken } from '@gantry/plugin-metrics';
import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';
import { z } from 'zod';
import {
  createMemoryDriver,
  dlqCommand,
  EventsToken,
  HEADERS,
  KafkaEventsErrors,
  memoryBroker,
  partitionFor,
  plugin,
  type EventEnvelope,
} from '../src/index.js';
import { brokerName, Kernels, OrderPlaced, rejection, until } from './support/kit.js';
import { outboxSuite } from './support/outbox-suite.js';

/** The list when it has items, else undefined (for until()). */
function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/;

describe('kafka-events: envelope and validation', () => {
  const kernels = new Kernels();
  afterEach(() => kernels.stopAll());

  it('publishes a CloudEvents binary-mode record: ce_* headers, traceparent, request id, JSON data, key → partition', async () => {
    const broker = brokerName();
    const tk = await kernels.boot({ database: false, events: { memoryBroker: broker, source: '/shop' } });
    const events = tk.get(EventsToken);
    const ctx = new RequestContext('req-42', Date.now() + 5_000, silentLogger());
    const id = await runWithContext(ctx, () => events.publish(OrderPlaced, { orderId: 'o-1', seq: 1 }, { key: 'o-1' }));
    const [record, ...more] = memoryBroker(broker).records('orders.placed');
    expect(more).to.have.length(0);
    const h = record!.headers;
    expect(h[HEADERS.id]).to.equal(id).and.match(UUID);
    expect(h).to.include({
      ce_type: 'orders.placed',
      ce_source: '/shop',
      ce_specversion: '1.0',
      ce_schemaversion: '1',
      ce_dataschema: 'urn:gantry:event:orders.placed:1',
      ce_subject: 'o-1',
      'content-type': 'application/json',
      'x-request-id': 'req-42',
    });
    expect(new Date(h.ce_time!).toISOString()).to.equal(h.ce_time);
    expect(h.traceparent).to.match(TRACEPARENT);
    expect(JSON.parse(record!.value.toString())).to.deep.equal({ orderId: 'o-1', seq: 1 });
    expect(record!.key).to.equal('o-1');
    expect(record!.partition).to.equal(partitionFor('o-1', 3));
  });

  it('refuses data that does not match the schema on publish, and sends nothing', async () => {
    const broker = brokerName();
    const tk = await kernels.boot({ database: false, events: { memoryBroker: broker } });
    const err = await rejection(
      tk
        .get(EventsToken)
        .publish(OrderPlaced, { orderId: 'o-1', seq: 'one' } as unknown as { orderId: string; seq: number }),
    );
    expect(err.code).to.equal(KafkaEventsErrors.INVALID_EVENT.code);
    expect(err.message).to.contain('seq');
    const unknown = await rejection(tk.get(EventsToken).publish('orders.cancelled', {}));
    expect(unknown.code).to.equal(KafkaEventsErrors.UNKNOWN_TYPE.code);
    expect(memoryBroker(broker).records('orders.placed')).to.have.length(0);
  });

  it('sends a record failing validation on consume straight to the DLQ with the error, without calling the handler', async () => {
    const broker = brokerName();
    const calls: unknown[] = [];
    const tk = await kernels.boot({
      database: false,
      events: { memoryBroker: broker },
      setup: ({ events }) => events.on(OrderPlaced, (e) => void calls.push(e.data)),
    });
    const driver = createMemoryDriver({ broker: memoryBroker(broker) });
    await driver.send([
      {
        topic: 'orders.placed',
        key: 'o-9',
        value: Buffer.from(JSON.stringify({ orderId: 'o-9', seq: 'x' })),
        headers: { ce_id: 'bad-1', ce_type: 'orders.placed', ce_specversion: '1.0' },
      },
    ]);
    const [dead] = await until('the dead letter', () => nonEmpty(memoryBroker(broker).records('orders.placed.dlq')));
    expect(dead!.headers[HEADERS.errorCode]).to.equal(KafkaEventsErrors.INVALID_EVENT.code);
    expect(dead!.headers[HEADERS.error]).to.contain('seq');
    expect(calls).to.deep.equal([]);
    const letters = await tk.get(EventsToken).deadLetters();
    expect(letters.map((l) => [l.id, l.attempts.length])).to.deep.equal([['bad-1', 1]]);
  });

  it('continues the trace and the request id of the event being handled in events it publishes', async () => {
    const broker = brokerName();
    const seen: EventEnvelope<{ orderId: string }>[] = [];
    const tk = await kernels.boot({
      database: false,
      events: { memoryBroker: broker },
      setup: ({ events }) => {
        const Shipped = events.define({
          type: 'orders.shipped',
          version: 2,
          data: z.object({ orderId: z.string() }),
        });
        events.on(OrderPlaced, (e) =>
          events.publish(Shipped, { orderId: e.data.orderId }, { key: e.key ?? undefined }).then(() => undefined),
        );
        events.on(Shipped, (e) => void seen.push(e));
      },
    });
    const ctx = new RequestContext('req-trace', Date.now() + 5_000, silentLogger());
    await runWithContext(ctx, () =>
      tk.get(EventsToken).publish(OrderPlaced, { orderId: 'o-2', seq: 1 }, { key: 'o-2' }),
    );
    const [placed] = memoryBroker(broker).records('orders.placed');
    const [shipped] = await until('the shipped event', () => (seen.length ? seen : undefined));
    expect(shipped!.version).to.equal(2);
    expect(shipped!.requestId).to.equal('req-trace');
    expect(TRACEPARENT.exec(shipped!.traceparent!)![1]).to.equal(TRACEPARENT.exec(placed!.headers.traceparent!)![1]);
    expect(shipped!.traceparent).to.not.equal(placed!.headers.traceparent);
  });
});

describe("kafka-events: the kernel's event bus", () => {
  const kernels = new Kernels();
  afterEach(() => kernels.stopAll());

  it('hands each consumed event of a `toBus` type to the kernel bus (for websocket and graphql pushes), and no other type', async () => {
    const broker = brokerName();
    const seen: BusEvent[] = [];
    let shippedConsumed = false;
    const tk = await kernels.boot({
      database: false,
      events: { memoryBroker: broker, toBus: ['orders.placed'] },
      setup: ({ events }) => {
        events.define(OrderPlaced);
        const Shipped = events.define({ type: 'orders.shipped', version: 1, data: z.object({ orderId: z.string() }) });
        events.on(Shipped, () => void (shippedConsumed = true));
      },
    });
    const bus = tk.get(EventBusToken);
    bus.subscribe('orders.placed', (e) => void seen.push(e));
    bus.subscribe('orders.shipped', (e) => void seen.push(e));
    const ctx = new RequestContext('req-bus', Date.now() + 5_000, silentLogger());
    const id = await runWithContext(ctx, () =>
      tk.get(EventsToken).publish(OrderPlaced, { orderId: 'o-9', seq: 3 }, { key: 'o-9' }),
    );
    await tk.get(EventsToken).publish('orders.shipped', { orderId: 'o-9' }, { key: 'o-9' });
    const [event] = await until('the bus event', () => nonEmpty(seen));
    expect(event).to.deep.include({ topic: 'orders.placed', key: 'o-9', payload: { orderId: 'o-9', seq: 3 } });
    expect(event!.headers).to.deep.equal({ 'ce-id': id, 'x-request-id': 'req-bus' });
    // The shipped event was consumed (by its own handler) and never reached the bus.
    await until('the shipped event consumed', () => shippedConsumed || undefined);
    expect(seen.map((e) => e.topic)).to.deep.equal(['orders.placed']);
  });

  it('refuses to boot when a `toBus` type is not defined by any plugin', async () => {
    const err = await rejection(
      kernels.boot({ database: false, events: { memoryBroker: brokerName(), toBus: ['orders.nowhere'] } }),
    );
    expect(err.message).to.contain('orders.nowhere');
  });
});

describe('kafka-events: retries, dead letters, replay, dedupe', () => {
  const kernels = new Kernels();
  afterEach(() => kernels.stopAll());

  it('moves a failing event through each retry topic, then to the DLQ with its history; replay re-delivers it to the fixed handler', async () => {
    const broker = brokerName();
    let fixed = false;
    const attempts: number[] = [];
    const handled: string[] = [];
    const other: string[] = [];
    const tk = await kernels.boot({
      database: false,
      events: { memoryBroker: broker },
      setup: ({ events }) => {
        events.on(OrderPlaced, (e) => {
          attempts.push(e.attempt);
          if (!fixed) throw new Error(`stock service refused order ${e.data.orderId}`);
          handled.push(e.id);
        });
        // A second handler of the same type succeeds at once: retries and replays are not its business.
        events.on(OrderPlaced, (e) => void other.push(e.id), { name: 'mailer' });
      },
    });
    const events = tk.get(EventsToken);
    const id = await events.publish(OrderPlaced, { orderId: 'o-3', seq: 1 }, { key: 'o-3' });
    const b = memoryBroker(broker);
    const [dead] = await until('the dead letter', () => nonEmpty(b.records('orders.placed.dlq')));
    expect(attempts).to.deep.equal([1, 2, 3]);
    expect(b.records('orders.placed.retry.1')).to.have.length(1);
    expect(b.records('orders.placed.retry.2')).to.have.length(1);
    expect(dead!.headers[HEADERS.id]).to.equal(id);
    expect(dead!.headers[HEADERS.error]).to.equal('stock service refused order o-3');
    const history = JSON.parse(dead!.headers[HEADERS.attempts]!) as { error: string; at: string }[];
    expect(history.map((a) => a.error)).to.deep.equal(Array(3).fill('stock service refused order o-3'));

    const lines: string[] = [];
    await dlqCommand(events, ['list'], (l) => lines.push(l));
    expect(lines[0]).to.match(new RegExp(`^${id}\\torders\\.placed\\t\\S+\\.orders\\.placed\\tattempts=3\\t`));
    expect(lines.at(-1)).to.equal('events: 1 dead letter');

    fixed = true;
    expect(await tk.kernel.runCommand('events:dlq', ['replay', id])).to.equal(0);
    await until('the replayed event to be handled', () => handled.length === 1);
    expect(handled).to.deep.equal([id]);
    expect(other).to.deep.equal([id]);
    expect(attempts).to.deep.equal([1, 2, 3, 1]);
    const usage = await rejection(dlqCommand(events, ['replay'], () => undefined));
    expect(usage.code).to.equal(KafkaEventsErrors.COMMAND_USAGE.code);
  });

  it('waits for a retry record to be due before handling it', async () => {
    const broker = brokerName();
    const times: number[] = [];
    await kernels.boot({
      database: false,
      events: { memoryBroker: broker, retry: { backoffMs: [300], jitter: 0 } },
      setup: ({ events }) =>
        events.on(OrderPlaced, () => {
          times.push(Date.now());
          if (times.length === 1) throw new Error('first attempt fails');
        }),
    });
    const tk = await kernels.boot({ database: false, events: { memoryBroker: broker, consumers: false } });
    await tk.get(EventsToken).publish(OrderPlaced, { orderId: 'o-4', seq: 1 });
    await until('the retry', () => times.length === 2);
    expect(times[1]! - times[0]!).to.be.at.least(300);
  });

  it('handles a redelivered event id once per handler (dedupe)', async () => {
    const broker = brokerName();
    const handled: string[] = [];
    await kernels.boot({
      database: false,
      events: { memoryBroker: broker },
      setup: ({ events }) => events.on(OrderPlaced, (e) => void handled.push(e.id)),
    });
    const driver = createMemoryDriver({ broker: memoryBroker(broker) });
    const record = {
      topic: 'orders.placed',
      key: 'o-5',
      value: Buffer.from(JSON.stringify({ orderId: 'o-5', seq: 1 })),
      headers: { ce_id: 'dup-1', ce_type: 'orders.placed', ce_specversion: '1.0' },
    };
    await driver.send([record, record, { ...record, headers: { ...record.headers, ce_id: 'dup-2' } }]);
    await until('both ids handled', () => handled.includes('dup-2'));
    expect(handled).to.deep.equal(['dup-1', 'dup-2']);
  });

  it('ends a handler that runs past handlerTimeoutMs with a timeout error (here straight to the DLQ: no retries configured)', async () => {
    const broker = brokerName();
    let calls = 0;
    await kernels.boot({
      database: false,
      events: { memoryBroker: broker, handlerTimeoutMs: 50, retry: { backoffMs: [], jitter: 0 } },
      setup: ({ events }) =>
        events.on(OrderPlaced, async () => {
          calls++;
          // Never settles: only the timeout ends the attempt.
          await new Promise(() => undefined);
        }),
    });
    const tk = await kernels.boot({ database: false, events: { memoryBroker: broker, consumers: false } });
    await tk.get(EventsToken).publish(OrderPlaced, { orderId: 'o-6', seq: 1 });
    const [dead] = await until('the dead letter', () => nonEmpty(memoryBroker(broker).records('orders.placed.dlq')));
    expect(dead!.headers[HEADERS.errorCode]).to.equal(KafkaEventsErrors.HANDLER_TIMEOUT.code);
    expect(calls).to.equal(1);
  });
});

outboxSuite({
  driver: 'sqlite',
  fresh: async (kernels) => ({ dbName: kernels.sqliteFile() }),
});

describe('kafka-events: plugin conformance', () => {
  it('passes the conformance kit with the in-process driver', async () => {
    const results = await checkConformance({ plugin, config: { 'kafka-events': {} } });
    const failed = results.filter((r) => !r.ok).map((r) => `${r.check}: ${r.message}`);
    expect(failed).to.deep.equal([]);
  });
});

describe('kafka-events: metrics', () => {
  const kernels = new Kernels();
  afterEach(() => kernels.stopAll());

  it('counts published, consumed, failed, retried and dead-lettered events, handler durations, lag and outbox depth', async () => {
    const broker = brokerName();
    const tk = await kernels.boot({
      events: { memoryBroker: broker, retry: { backoffMs: [0], jitter: 0 } },
      extra: [httpPlugin, metricsPlugin],
      setup: ({ events }) =>
        events.on(OrderPlaced, (e) => {
          if (e.data.note === 'fail') throw new Error('refused');
        }),
    });
    const events = tk.get(EventsToken);
    await events.publish(OrderPlaced, { orderId: 'o-20', seq: 1 });
    await events.publish(OrderPlaced, { orderId: 'o-21', seq: 1, note: 'fail' });
    await until('the dead letter', () => nonEmpty(memoryBroker(broker).records('orders.placed.dlq')));
    await until('lag 0', async () => (await events.lag()).every((g) => g.lag === 0));
    const text = await tk.get(MetricsToken).registry.metrics();
    const value = (line: string) => {
      const found = text.split('\n').find((l) => l.startsWith(`${line} `));
      return found === undefined ? undefined : Number(found.slice(line.length + 1));
    };
    expect(value('kafka_events_published_total{type="orders.placed"}')).to.equal(2);
    expect(value('kafka_events_consumed_total{type="orders.placed"}')).to.equal(1);
    expect(value('kafka_events_failed_total{type="orders.placed"}')).to.equal(2);
    expect(value('kafka_events_retried_total{type="orders.placed"}')).to.equal(1);
    expect(value('kafka_events_dead_lettered_total{type="orders.placed"}')).to.equal(1);
    expect(value('kafka_events_handler_duration_seconds_count{type="orders.placed"}')).to.equal(1);
    expect(value('kafka_events_outbox_depth')).to.equal(0);
    expect(value('kafka_events_outbox_oldest_age_seconds')).to.equal(0);
    expect(text).to.match(/kafka_events_consumer_lag\{group="[^"]+\.orders\.placed"\} 0/);
  });
});
