import { createRequire } from 'node:module';
import { expect } from 'chai';
// Importing the driver applies the fix, as it does for every user of the plugin.
import '../src/drivers/kafka.js';
import { fixKafkajsPendingCheck } from '../src/drivers/kafkajs-fixes.js';

interface Queue {
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  push(request: { entry: Record<string, unknown>; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
}

// kafkajs's own RequestQueue, the one the driver's connections use.
const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (
  options: Record<string, unknown>,
) => Queue;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('kafkajs pending-request check (fixed by the kafka driver)', () => {
  const queues: Queue[] = [];
  afterEach(() => {
    for (const q of queues.splice(0)) q.destroy();
  });

  function queue(): { q: Queue; sent: number[]; push: (id: number) => Promise<unknown> } {
    const q = new RequestQueue({
      maxInFlightRequests: 1,
      requestTimeout: 30_000,
      enforceRequestTimeout: false,
      clientId: 'test',
      broker: '127.0.0.1:9092',
      logger: quiet,
    });
    queues.push(q);
    const sent: number[] = [];
    const push = (correlationId: number) =>
      new Promise((resolve, reject) =>
        q.push({
          entry: { apiKey: 0, apiName: 'Produce', apiVersion: 7, correlationId, resolve, reject },
          expectResponse: true,
          sendRequest: () => sent.push(correlationId),
        }),
      );
    return { q, sent, push };
  }
  const answer = (q: Queue, correlationId: number) =>
    q.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });

  it('is in place on the kafkajs this package resolves', () => {
    expect(fixKafkajsPendingCheck()).to.equal(true);
  });

  it('arms no timer once no request waits (kafkajs 2.2.4 re-armed a 1 ms one for the life of the connection)', async () => {
    const { q, sent, push } = queue();
    const first = push(1);
    const second = push(2); // one request in flight: this one waits
    expect(sent).to.deep.equal([1]);
    expect(q.pending).to.have.length(1);
    expect(q.throttleCheckTimeoutId, 'a waiting request is looked at again').to.not.equal(null);
    answer(q, 1);
    expect(sent, 'the answer sends the waiting request at once').to.deep.equal([1, 2]);
    answer(q, 2);
    await Promise.all([first, second]);
    // Let the check armed while request 2 waited fire: it must not arm another one.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(q.pending).to.have.length(0);
    expect(q.throttleCheckTimeoutId).to.equal(null);
  });

  it('still sends a request held by a broker throttle once the throttle ends', async () => {
    const { q, sent, push } = queue();
    q.maybeThrottle(40);
    const held = push(7);
    expect(sent).to.deep.equal([]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(sent).to.deep.equal([7]);
    answer(q, 7);
    await held;
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(q.throttleCheckTimeoutId).to.equal(null);
  });
});
