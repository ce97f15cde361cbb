// The redis plugin against the real Redis (REDIS_HOST:REDIS_PORT, default 127.0.0.1:6379): commands,
// one connection shared by the plugins of a kernel, and an outage and its end through a TCP relay.
import { randomBytes } from 'node:crypto';
import { definePlugin, type Plugin } from '@gantry/core';
import { checkConformance, memoryLogger, type LogLine, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { plugin, RedisToken } from '../src/index.js';
import { boot, eventually, readiness, rejection, REDIS, REDIS_URL } from './support/probe.js';
import { TcpProxy } from '@gantry/testing';

describe('redis: with the real Redis', () => {
  // A prefix of its own per run: parallel runs never collide; every key under it is deleted at the end.
  const prefix = `gantry:redis-test:${randomBytes(6).toString('hex')}:`;
  const kernels: TestKernel[] = [];
  const proxies: TcpProxy[] = [];
  const start = async (...args: Parameters<typeof boot>): Promise<TestKernel> => {
    const kernel = await boot(...args);
    kernels.push(kernel);
    return kernel;
  };
  const relay = async (): Promise<TcpProxy> => {
    const proxy = new TcpProxy(REDIS);
    await proxy.start();
    proxies.push(proxy);
    return proxy;
  };

  afterEach(async () => {
    while (kernels.length > 0) await kernels.pop()!.stop();
    while (proxies.length > 0) await proxies.pop()!.stop();
  });
  after(async () => {
    const admin = new Redis(REDIS_URL);
    try {
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(...keys);
    } finally {
      await admin.quit();
    }
  });

  it('runs commands (run, call, client) and is ready, critical', async () => {
    const kernel = await start({ url: REDIS_URL }, { key: `${prefix}counter` });
    expect((await kernel.inject('/api/v1/counter')).json()).to.deep.equal({ value: 1 });
    expect((await kernel.inject('/api/v1/counter')).json()).to.deep.equal({ value: 2 });

    const redis = kernel.get(RedisToken);
    expect(await redis.call('GET', [`${prefix}counter`])).to.equal('2');
    await redis.run((c) => c.set(`${prefix}greeting`, 'hello', 'EX', 60));
    expect(await redis.client().get(`${prefix}greeting`)).to.equal('hello');
    expect(await redis.ping()).to.deep.equal({ ok: true });

    const { httpStatus, check } = await readiness(kernel);
    expect(httpStatus).to.equal(200);
    expect(check).to.deep.include({ status: 'up', critical: true });
  });

  it('gives every plugin of a kernel the same connection, and each kernel its own', async () => {
    const clientIdOf = (name: string): Plugin =>
      definePlugin({
        name,
        version: '0.1.0',
        kernel: '^0.1.0',
        dependsOn: ['http', 'redis'],
        register(ctx) {
          const redis = ctx.container.get(RedisToken);
          ctx.http.get(`/${name}`, {}, async () => ({ id: await redis.run((c) => c.client('ID')) }));
        },
      });
    const a = await start({ url: REDIS_URL }, { extra: [clientIdOf('first'), clientIdOf('second')] });
    const b = await start({ url: REDIS_URL }, { extra: [clientIdOf('first')] });
    const first = (await a.inject('/api/v1/first')).json().id as number;
    expect(first).to.be.a('number');
    expect((await a.inject('/api/v1/second')).json().id, 'one Redis connection per kernel').to.equal(first);
    expect((await b.inject('/api/v1/first')).json().id, 'another kernel, another connection').not.to.equal(first);
  });

  it('passes a reply error on from call() and answers it 503 from run(), without reporting an outage', async () => {
    const lines: LogLine[] = [];
    const kernel = await start({ url: REDIS_URL }, { logger: memoryLogger(lines) });
    const redis = kernel.get(RedisToken);
    const raw = await rejection(redis.call('NOSUCHCOMMAND', []));
    expect(raw.name).to.equal('ReplyError');
    expect(raw.message).to.match(/^ERR unknown command/);
    const wrapped = await rejection(redis.run((c) => c.call('NOSUCHCOMMAND')));
    expect(wrapped).to.deep.include({ code: 'GANTRY_REDIS_UNAVAILABLE', details: { code: 'ERR' } });
    expect(redis.isFailing(), 'Redis answered: the connection is fine').to.equal(false);
    expect(lines.filter((l) => l.msg.startsWith('Redis'))).to.deep.equal([]);
  });

  it('fails a command past commandTimeoutMs with 503 (code TIMEOUT), then recovers', async () => {
    const kernel = await start({ url: REDIS_URL, commandTimeoutMs: 100 });
    const redis = kernel.get(RedisToken);
    // BLPOP on an empty list holds the connection for 1 s on the server side.
    const err = await rejection(redis.run((c) => c.blpop(`${prefix}empty`, 1)));
    expect(err).to.deep.include({ code: 'GANTRY_REDIS_UNAVAILABLE', status: 503, details: { code: 'TIMEOUT' } });
    expect(redis.isFailing()).to.equal(true);
    await eventually(async () => (await redis.ping()).ok);
    expect(redis.isFailing()).to.equal(false);
  });

  it('answers 503 during an outage and recovers without a restart, keeping the data, with one log line each way', async () => {
    const proxy = await relay();
    const lines: LogLine[] = [];
    const kernel = await start(
      { url: `redis://127.0.0.1:${proxy.port}` },
      { key: `${prefix}outage`, logger: memoryLogger(lines) },
    );
    expect((await kernel.inject('/api/v1/counter')).json()).to.deep.equal({ value: 1 });

    await proxy.stop();
    // Down at once; the code of the cause once a reconnect attempt has been refused.
    await eventually(async () => (await readiness(kernel)).check.details?.code === 'ECONNREFUSED');
    const { httpStatus, check } = await readiness(kernel);
    expect(httpStatus).to.equal(503);
    expect(check).to.deep.include({ status: 'down', details: { code: 'ECONNREFUSED' } });
    for (let i = 0; i < 3; i++) {
      const res = await kernel.inject('/api/v1/counter');
      expect(res.statusCode).to.equal(503);
      expect(res.headers['retry-after']).to.equal('1');
      expect(res.json().code).to.equal('GANTRY_REDIS_UNAVAILABLE');
      expect(res.body, 'no address of the Redis server reaches the client').not.to.include(String(proxy.port));
    }

    await proxy.start();
    await eventually(async () => (await readiness(kernel)).check.status === 'up');
    expect(
      (await kernel.inject('/api/v1/counter')).json(),
      'the count made before the outage is still there',
    ).to.deep.equal({ value: 2 });
    expect(lines.filter((l) => l.msg.startsWith('Redis')).map((l) => [l.level, l.msg.split(':')[0]])).to.deep.equal([
      ['warn', 'Redis unavailable'],
      ['info', 'Redis available again'],
    ]);
  });

  it('uses a Redis that was down at boot as soon as it answers', async () => {
    const proxy = await relay();
    await proxy.stop();
    const kernel = await start({ url: `redis://127.0.0.1:${proxy.port}` }, { key: `${prefix}late` });
    expect((await kernel.inject('/api/v1/counter')).statusCode).to.equal(503);
    await proxy.start();
    await eventually(async () => (await readiness(kernel)).httpStatus === 200);
    expect((await kernel.inject('/api/v1/counter')).json()).to.deep.equal({ value: 1 });
  });

  it('delivers pub/sub messages between kernels (publisher included), until unsubscribed', async () => {
    const channel = `${prefix}channel`;
    const a = (await start({ url: REDIS_URL })).get(RedisToken);
    const b = (await start({ url: REDIS_URL })).get(RedisToken);
    const gotA: string[] = [];
    const gotB: string[] = [];
    await a.subscribe(channel, (m) => gotA.push(m));
    const unsubscribe = await b.subscribe(channel, (m) => gotB.push(m));
    expect(await a.publish(channel, 'one')).to.equal(2);
    await eventually(async () => gotA.length === 1 && gotB.length === 1);
    expect([gotA, gotB]).to.deep.equal([['one'], ['one']]);
    await unsubscribe();
    expect(await a.publish(channel, 'two')).to.equal(1);
    await eventually(async () => gotA.length === 2);
    expect(gotB).to.deep.equal(['one']);
  });

  it('subscribes again after an outage, channels added while Redis was down included', async () => {
    const proxy = await relay();
    const subscriber = (await start({ url: `redis://127.0.0.1:${proxy.port}` })).get(RedisToken);
    const publisher = (await start({ url: REDIS_URL })).get(RedisToken);
    const got: string[] = [];
    await subscriber.subscribe(`${prefix}before`, (m) => got.push(`before:${m}`));
    await proxy.stop();
    // Resolves at once while Redis is down; the subscription is made when it answers again.
    await subscriber.subscribe(`${prefix}during`, (m) => got.push(`during:${m}`));
    await proxy.start();
    await eventually(
      async () =>
        (await publisher.publish(`${prefix}before`, 'x')) === 1 &&
        (await publisher.publish(`${prefix}during`, 'y')) === 1,
    );
    await eventually(async () => got.includes('before:x') && got.includes('during:y'));
  });

  it('passes every conformance check, critical, and quits cleanly on stop', async () => {
    const results = await checkConformance({ plugin, config: { redis: { url: REDIS_URL } } });
    expect(results.filter((r) => !r.ok).map((r) => `${r.check}: ${r.message}`)).to.deep.equal([]);
    expect(results.map((r) => r.check)).to.include.members([
      'boots',
      'ready',
      'isolated',
      'stops',
      'no-leaked-handles',
      'no-global-state',
    ]);
  });
});
