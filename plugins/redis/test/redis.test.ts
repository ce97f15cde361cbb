// The redis plugin without any Redis server: an unreachable one (127.0.0.1 port 1 refuses at once) and
// a server that accepts connections but never answers. The real-server suite is redis.redis.test.ts.
import net, { type AddressInfo } from 'node:net';
import { silentLogger } from '@gantry/core';
import { checkConformance, memoryLogger, type LogLine } from '@gantry/testing';
import { expect } from 'chai';
import { plugin, RedisConnection } from '../src/index.js';
import { boot, readiness, rejection, thrown } from './support/probe.js';

const UNREACHABLE = 'redis://127.0.0.1:1';

describe('redis: without a Redis server', () => {
  it('boots when Redis is unreachable; readiness is down with the error code, and stop returns at once', async () => {
    const kernel = await boot({ url: UNREACHABLE });
    const { httpStatus, check } = await readiness(kernel);
    expect(httpStatus, 'critical by default: out of rotation').to.equal(503);
    expect(check).to.deep.include({ status: 'down', critical: true, details: { code: 'ECONNREFUSED' } });
    const t0 = performance.now();
    await kernel.stop();
    expect(performance.now() - t0, 'stop does not wait for a reconnect').to.be.below(500);
  });

  it('with critical false, reports Redis degraded and keeps the instance ready', async () => {
    const kernel = await boot({ url: UNREACHABLE, critical: false });
    try {
      const { httpStatus, check } = await readiness(kernel);
      expect(httpStatus).to.equal(200);
      expect(check).to.deep.include({ status: 'degraded', critical: false, details: { code: 'ECONNREFUSED' } });
    } finally {
      await kernel.stop();
    }
  });

  it('answers 503 GANTRY_REDIS_UNAVAILABLE with Retry-After when run() cannot reach Redis, naming no host', async () => {
    const kernel = await boot({ url: UNREACHABLE });
    try {
      const res = await kernel.inject('/api/v1/counter');
      expect(res.statusCode).to.equal(503);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(res.headers['retry-after']).to.equal('1');
      expect(res.json()).to.include({ code: 'GANTRY_REDIS_UNAVAILABLE', status: 503 });
      expect(res.body, 'no address of the Redis server reaches the client').not.to.match(/127\.0\.0\.1|redis:\/\//);
    } finally {
      await kernel.stop();
    }
  });

  it('logs one warning per outage with its code, however many commands fail, and no address', async () => {
    const lines: LogLine[] = [];
    const kernel = await boot({ url: UNREACHABLE }, { logger: memoryLogger(lines) });
    try {
      for (let i = 0; i < 3; i++) expect((await kernel.inject('/api/v1/counter')).statusCode).to.equal(503);
      await readiness(kernel);
      const redisLines = lines.filter((l) => l.msg.startsWith('Redis'));
      expect(redisLines.map((l) => [l.level, l.msg.split(':')[0], l.fields])).to.deep.equal([
        ['warn', 'Redis unavailable', { code: 'ECONNREFUSED' }],
      ]);
      expect(JSON.stringify(lines)).not.to.include(UNREACHABLE);
    } finally {
      await kernel.stop();
    }
  });

  it('refuses commands before open and after close with 503 GANTRY_REDIS_UNAVAILABLE; call() fails at once while disconnected', async () => {
    const redis = new RedisConnection({
      url: UNREACHABLE,
      commandTimeoutMs: 5_000,
      connectTimeoutMs: 1_000,
      logger: silentLogger(),
    });
    expect(thrown(() => redis.client())).to.include({ code: 'GANTRY_REDIS_UNAVAILABLE', status: 503 });
    expect(await rejection(redis.run((c) => c.ping()))).to.include({ code: 'GANTRY_REDIS_UNAVAILABLE' });
    expect(await rejection(redis.call('PING', []))).to.include({ code: 'GANTRY_REDIS_UNAVAILABLE' });
    expect(await redis.ping()).to.deep.equal({ ok: false, code: 'NOT_CONNECTED' });

    await redis.open();
    try {
      const t0 = performance.now();
      const err = await rejection(redis.call('GET', ['gantry:redis-test:any']));
      expect(performance.now() - t0, 'no offline queue: no wait for the 5 s command timeout').to.be.below(500);
      expect(err.code, 'call() passes the ioredis error on').not.to.equal('GANTRY_REDIS_UNAVAILABLE');
      expect(redis.isFailing()).to.equal(true);
    } finally {
      await redis.close();
    }
    expect(thrown(() => redis.client())).to.include({ code: 'GANTRY_REDIS_UNAVAILABLE' });
  });

  it('does not hang the boot on a server that accepts connections but never answers', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => void sockets.add(s.on('error', () => undefined)));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const t0 = performance.now();
      const kernel = await boot({
        url: `redis://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        connectTimeoutMs: 300,
        commandTimeoutMs: 200,
      });
      try {
        expect(performance.now() - t0, 'bounded by the timeouts, far below the start hook limit').to.be.below(1_500);
        expect(sockets.size, 'it did connect').to.be.greaterThan(0);
        const { check } = await readiness(kernel);
        expect(check).to.deep.include({ status: 'down', details: { code: 'TIMEOUT' } });
      } finally {
        await kernel.stop();
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses a url that is not redis:// or rediss:// at boot, naming the option', async () => {
    const err = await rejection(boot({ url: 'http://127.0.0.1:6379' }));
    expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect(err.message).to.include('plugin "redis": option "url"').and.include('redis://host:6379');
  });

  it('passes every conformance check while Redis is unreachable (critical false), leaving no handle open', async () => {
    const results = await checkConformance({ plugin, config: { redis: { url: UNREACHABLE, critical: false } } });
    expect(results.filter((r) => !r.ok).map((r) => `${r.check}: ${r.message}`)).to.deep.equal([]);
    expect(results.map((r) => r.check)).to.include.members([
      'metadata',
      'config-documented',
      'boots',
      'health-check',
      'ready',
      'isolated',
      'stops',
      'no-leaked-handles',
      'no-global-state',
    ]);
  });

  it('fails the conformance "ready" check when Redis is unreachable and critical', async () => {
    const results = await checkConformance({ plugin, config: { redis: { url: UNREACHABLE } } });
    expect(results.filter((r) => !r.ok).map((r) => r.check)).to.deep.equal(['ready']);
  });
});
