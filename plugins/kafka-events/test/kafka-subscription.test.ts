import { EventEmitter } from 'node:events';
import { silentLogger } from '@gantry/core';
import { expect } from 'chai';
import { KafkaSubscription } from '../src/drivers/kafka.js';

/**
 * A stand-in for a kafkajs consumer, with each step held until the test lets it go: the races between
 * stop() and a start or a rejoin under way cannot be timed against a real broker. What a real consumer
 * does is covered by kafka-driver.kafka.test.ts.
 */
class HeldConsumer extends EventEmitter {
  readonly events = { CRASH: 'consumer.crash' };
  readonly calls: string[] = [];
  private readonly held = new Map<string, () => void>();
  private readonly hold: Set<string>;
  /** Steps whose first call waits for release(step) before it resolves. */
  constructor(hold: ReadonlySet<string>) {
    super();
    this.hold = new Set(hold);
  }
  private step(name: string): Promise<void> {
    this.calls.push(name);
    if (!this.hold.delete(name)) return Promise.resolve();
    return new Promise((resolve) => this.held.set(name, resolve));
  }
  release(name: string): void {
    this.held.get(name)?.();
  }
  connect = () => this.step('connect');
  subscribe = () => this.step('subscribe');
  run = () => this.step('run');
  disconnect = () => this.step('disconnect');
  /** Whether the consumer is left running: it ran, and no disconnect came after its last run. */
  get running(): boolean {
    return this.calls.lastIndexOf('run') > this.calls.lastIndexOf('disconnect');
  }
}

function subscription(holds: Array<ReadonlySet<string>>) {
  const consumers: HeldConsumer[] = [];
  const kafka = {
    consumer: () => {
      const c = new HeldConsumer(holds[consumers.length] ?? new Set());
      consumers.push(c);
      return c;
    },
  };
  const sub = new KafkaSubscription(
    kafka as never,
    silentLogger(),
    { groupId: 'g', topics: ['t'], handle: async () => undefined, retryDelayMs: 10 },
    { concurrency: 1, sessionTimeoutMs: 10_000, onStopped: () => undefined },
  );
  return { sub, consumers };
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

describe('kafka subscription: stop() against a start or a rejoin under way', () => {
  it('a consumer whose connect ends after stop() is disconnected and never runs', async () => {
    const { sub, consumers } = subscription([new Set(['connect'])]);
    const starting = sub.start();
    await tick();
    const stopping = sub.stop();
    consumers[0]!.release('connect');
    await Promise.all([starting, stopping]);
    expect(consumers[0]!.calls).to.not.include('run');
    expect(consumers[0]!.calls.at(-1)).to.equal('disconnect');
  });

  it('a restart kafkajs arms after stop() is undone: the consumer is disconnected again', async () => {
    const { sub, consumers } = subscription([new Set()]);
    await sub.start();
    await sub.stop();
    const disconnects = () => consumers[0]!.calls.filter((c) => c === 'disconnect').length;
    expect(disconnects()).to.equal(1);
    // kafkajs decided to restart (its retriable crash path) just as stop() ran.
    consumers[0]!.emit('consumer.crash', { payload: { error: new Error('gone'), restart: true } });
    await tick(5);
    expect(disconnects()).to.equal(2);
  });

  it('a rejoin under way when stop() comes starts no new consumer, and leaves none running', async () => {
    // The first consumer crashes for good; its rejoin holds on disconnecting it.
    const { sub, consumers } = subscription([new Set(['disconnect'])]);
    await sub.start();
    consumers[0]!.emit('consumer.crash', { payload: { error: new Error('fatal'), restart: false } });
    await tick(30); // past retryDelayMs: the rejoin is disconnecting the old consumer
    expect(consumers[0]!.calls.at(-1)).to.equal('disconnect');
    const stopping = sub.stop();
    consumers[0]!.release('disconnect');
    await stopping;
    await tick(30); // what the rejoin would still do after stop() resolved
    expect(consumers, 'no consumer made after stop()').to.have.length(1);
    expect(consumers.some((c) => c.running)).to.equal(false);
  });

  it('a rejoin that already started its new consumer: stop() waits for it and disconnects it', async () => {
    const { sub, consumers } = subscription([new Set(), new Set(['subscribe'])]);
    await sub.start();
    consumers[0]!.emit('consumer.crash', { payload: { error: new Error('fatal'), restart: false } });
    await tick(30);
    expect(consumers).to.have.length(2);
    const stopping = sub.stop();
    consumers[1]!.release('subscribe');
    await stopping;
    await tick(30);
    expect(consumers.some((c) => c.running)).to.equal(false);
    expect(consumers[1]!.calls).to.not.include('run');
  });
});
