// Two instances (kernels) sharing the real Redis (REDIS_URL, default 127.0.0.1:6379): a message
// published through one reaches a subscriber connected to the other, and user channels stay private.
import { randomBytes } from 'node:crypto';
import { plugin as redisPlugin } from '@gantry/plugin-redis';
import type { TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { WebSocketToken } from '../src/index.js';
import { boot, signedIn, tokenFor, until, wsUrl, type Peer } from './support/harness.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('websocket: fan-out across instances through the real Redis', function () {
  this.timeout(30_000);
  // A channel of its own per run: parallel runs never see each other's messages.
  const redisChannel = `gantry:websocket-test:${randomBytes(6).toString('hex')}`;
  let a: TestKernel;
  let b: TestKernel;
  const peers: Peer[] = [];

  const instance = (): Promise<TestKernel> =>
    boot({
      extra: [redisPlugin],
      websocket: { fanout: 'redis', redisChannel },
      config: { redis: { url: REDIS_URL } },
    });

  before(async () => {
    a = await instance();
    b = await instance();
  });
  after(async () => {
    while (peers.length) peers.pop()!.ws.terminate();
    await a?.stop();
    await b?.stop();
  });

  it('a message published through instance A reaches a subscriber on instance B (and one on A)', async () => {
    const onA = await signedIn(wsUrl(a), await tokenFor(a, 'ann'));
    const onB = await signedIn(wsUrl(b), await tokenFor(b, 'ben'));
    peers.push(onA, onB);
    onA.send({ type: 'subscribe', channel: 'members', id: 1 });
    onB.send({ type: 'subscribe', channel: 'members', id: 1 });
    await onA.next((m) => m.type === 'subscribed');
    await onB.next((m) => m.type === 'subscribed');

    await a.get(WebSocketToken).publish('members', { from: 'A' });
    expect(await onB.next((m) => m.type === 'message')).to.deep.equal({
      type: 'message',
      channel: 'members',
      data: { from: 'A' },
    });
    expect(await onA.next((m) => m.type === 'message')).to.deep.include({ channel: 'members' });
    // A delivered its own subscriber directly: the copy coming back through Redis is not sent twice.
    await b.get(WebSocketToken).publish('members', { from: 'B' });
    await onA.next((m) => m.type === 'message' && (m.data as { from: string }).from === 'B');
    expect(onA.received.filter((m) => m.type === 'message').length).to.equal(2);
  });

  it('a push to a user on A reaches that user connected to B only', async () => {
    const cora = await signedIn(wsUrl(b), await tokenFor(b, 'cora'));
    const dave = await signedIn(wsUrl(b), await tokenFor(b, 'dave'));
    peers.push(cora, dave);
    await a.get(WebSocketToken).publish('user:cora', { note: 'yours' });
    expect((await cora.next((m) => m.type === 'message')).data).to.deep.equal({ note: 'yours' });
    await a.get(WebSocketToken).publish('user:dave', { note: 'his' });
    await dave.next((m) => m.type === 'message');
    expect(dave.received.filter((m) => m.type === 'message').map((m) => m.channel)).to.deep.equal(['user:dave']);
    await until(() => b.get(WebSocketToken).stats().messagesOut >= 4, 5_000, 'deliveries on B');
  });
});
