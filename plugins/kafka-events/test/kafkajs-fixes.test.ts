import { createRequire } from 'node:module';
import { expect } from 'chai';
// Importing the driver applies the fix, as it does for every user of the plugin.
import '../src/drivers/kafka.js';
import { fixKafkajsEncoderAllocation, fixKafkajsPendingCheck } from '../src/drivers/kafkajs-fixes.js';

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

interface EncoderLike {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  writeInt32(value: number): EncoderLike;
  writeVarIntString(value: string): EncoderLike;
  writeVarIntBytes(value: string | Buffer): EncoderLike;
  writeBytes(value: Buffer): EncoderLike;
}
type EncoderConstructor = new (initialSize?: number) => EncoderLike;

describe('kafkajs encoder buffers (taken from zero-filled slabs by the kafka driver)', () => {
  const require = createRequire(import.meta.url);
  // The Encoder kafkajs's modules use (the driver swapped it before they loaded), and kafkajs's own.
  const Encoder = require('kafkajs/src/protocol/encoder.js') as EncoderConstructor;
  const Original = Object.getPrototypeOf(Encoder) as EncoderConstructor;
  const Header = require('kafkajs/src/protocol/recordBatch/header/v0/index.js') as (h: {
    key: string;
    value: string;
  }) => EncoderLike;

  it('is in place on the kafkajs this package resolves, for the modules that encode records', () => {
    expect(fixKafkajsEncoderAllocation()).to.equal(true);
    expect(Original.name).to.equal('Encoder');
    expect(Encoder).to.not.equal(Original);
    const header = Header({ key: 'ce_id', value: 'abc' });
    expect(header).to.be.an.instanceOf(Original);
    // A slice of a slab, not an ArrayBuffer of its own.
    expect(header.buf.buffer.byteLength).to.be.greaterThan(header.buf.length);
  });

  it('writes the bytes kafkajs’s own Encoder writes, growing past its first buffer', () => {
    const long = 'é'.repeat(700); // past the first 512 bytes: the grown buffer keeps what was written
    const write = (e: EncoderLike) =>
      e
        .writeInt32(-7)
        .writeVarIntString('ce_type')
        .writeVarIntBytes(long)
        .writeBytes(Buffer.from('tail'))
        .buffer.toString('hex');
    expect(write(new Encoder())).to.equal(write(new Original()));
    expect(write(new Encoder(4))).to.equal(write(new Original(4)));
  });

  it('gives each encoder zero-filled bytes no other encoder shares, as Buffer.alloc does', () => {
    const first = new Encoder(64);
    const second = new Encoder(64);
    expect([...first.buf].every((b) => b === 0)).to.equal(true);
    first.buf.fill(0xff);
    expect(
      [...second.buf].every((b) => b === 0),
      'a neighbour slice is untouched',
    ).to.equal(true);
    first.writeBytes(Buffer.alloc(300, 1)); // grows: a new zero-filled buffer with the old bytes copied
    expect(first.buf.subarray(first.offset).every((b) => b === 0)).to.equal(true);
    const later = new Encoder(64);
    expect(
      [...later.buf].every((b) => b === 0),
      'slices are never handed out twice',
    ).to.equal(true);
  });
});
