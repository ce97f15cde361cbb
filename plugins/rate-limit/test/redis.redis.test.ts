import { createHash } from 'node:crypto';
import { RedisToken } from '@gantry/plugin-redis';
import { type TestKernel, memoryLogger, type LogLine } from '@gantry/testing';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { RateLimitsToken } from '../src/index.js';
import {
  boot,
  CLASSIC_AUTH,
  deleteKeys,
  eventually,
  expectRateLimited,
  header,
  keysUnder,
  login,
  REDIS_URL,
  RedisRelay,
  repeat,
  uniquePrefix,
} from './harness.js';

describe('rate-limit: redis store through the redis plugin (real Redis on 127.0.0.1:6379)', () => {
  const prefix = uniquePrefix();
  const kernels: TestKernel[] = [];
  const start = async (options: Parameters<typeof boot>[0] = {}): Promise<TestKernel> => {
    // The keying mechanics are shown with the classic two-counter policy; brute-force.redis.test.ts runs the built-in auth.
    const k = await boot({
      ...options,
      redis: { url: REDIS_URL, ...options.redis },
      rateLimit: { store: 'redis', prefix, policies: { auth: CLASSIC_AUTH }, ...options.rateLimit },
    });
    kernels.push(k);
    return k;
  };
  afterEach(async () => {
    while (kernels.length > 0) await kernels.pop()!.stop();
    await deleteKeys(prefix);
  });
  after(async () => {
    expect(await keysUnder(prefix), 'every test key is deleted').to.deep.equal([]);
  });

  it('counts login attempts across two instances sharing Redis: the 11th in the window gets 429', async () => {
    const a = await start();
    const b = await start();
    // Alternate instances, each attempt from the same client and account.
    const attempts = await repeat(10, (i) => login(i % 2 === 0 ? a : b));
    for (const [i, res] of attempts.entries()) {
      expect(res.statusCode, `attempt ${i + 1} on instance ${i % 2 === 0 ? 'A' : 'B'}`).to.equal(200);
      expect(header(res, 'ratelimit')).to.match(
        new RegExp(`^"auth"; r=${9 - i}; t=\\d+, "auth\\.account"; r=${9 - i}; t=\\d+$`),
      );
    }
    expectRateLimited(await login(a), { policy: 'auth', limit: 10, windowSeconds: 900 });
    expectRateLimited(await login(b), { policy: 'auth', limit: 10, windowSeconds: 900 });

    // Counters live under the prefix: per IP, and per account as a hash (no address in clear).
    const accountHash = createHash('sha256').update('alice@example.com').digest('base64url');
    expect(await keysUnder(prefix)).to.deep.equal([`${prefix}auth:127.0.0.1`, `${prefix}auth:acct:${accountHash}`]);
    expect(a.get(RateLimitsToken).store).to.equal('redis');
  });

  it('counts one account across instances and client IPs', async () => {
    const a = await start();
    const b = await start();
    const attempts = await repeat(10, (i) => login(i % 2 === 0 ? a : b, { remoteAddress: `198.51.100.${i + 1}` }));
    expect(attempts.map((r) => r.statusCode)).to.deep.equal(Array(10).fill(200));
    expectRateLimited(await login(b, { remoteAddress: '198.51.100.200' }), {
      policy: 'auth',
      per: 'account',
      limit: 10,
      windowSeconds: 900,
    });
  });

  it('with http trustProxy 1, keys on the last X-Forwarded-For hop: a spoofed extra hop gets no fresh budget', async () => {
    const kernel = await start({ http: { trustProxy: 1 } });
    // The proxy (10.0.0.2) appends the address it saw; the client put a forged hop of its own first.
    const viaProxy = (forged: string, client: string, email: string) =>
      login(kernel, { email, remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': `${forged}, ${client}` } });
    // Distinct accounts, so only the IP counter is at stake.
    const attempts = await repeat(10, (i) => viaProxy(`192.0.2.${i + 1}`, '203.0.113.7', `user${i}@example.com`));
    expect(attempts.map((r) => r.statusCode)).to.deep.equal(Array(10).fill(200));
    expectRateLimited(await viaProxy('192.0.2.200', '203.0.113.7', 'another@example.com'), {
      policy: 'auth',
      limit: 10,
      windowSeconds: 900,
    });
    // Another client behind the same proxy has its own budget; the proxy's address is never the key.
    expect((await viaProxy('192.0.2.1', '203.0.113.8', 'someone@example.com')).statusCode).to.equal(200);
    const ipKeys = (await keysUnder(prefix)).filter((k) => !k.includes(':acct:'));
    expect(ipKeys).to.deep.equal([`${prefix}auth:203.0.113.7`, `${prefix}auth:203.0.113.8`]);
  });

  it("counts through the redis plugin's shared connection (no connection of its own)", async () => {
    const kernel = await start();
    const shared = await kernel.get(RedisToken).run((c) => c.client('ID'));
    expect((await login(kernel)).statusCode).to.equal(200);
    const admin = new Redis(REDIS_URL);
    try {
      // The last command of the shared connection is the counter script rate-limit just ran.
      const info = (await admin.call('CLIENT', 'LIST', 'ID', String(shared))) as string;
      expect(info).to.match(new RegExp(`^id=${shared} .*\\bcmd=evalsha\\b`));
    } finally {
      await admin.quit();
    }
  });

  it('uses Redis by default outside the embedded profile', async () => {
    const kernel = await boot({ profile: 'compose', redis: { url: REDIS_URL }, rateLimit: { prefix } });
    kernels.push(kernel);
    expect(kernel.get(RateLimitsToken).store).to.equal('redis');
    const res = await kernel.inject('/api/v1/notes');
    expect(res.statusCode).to.equal(200);
    expect(await keysUnder(prefix)).to.deep.equal([`${prefix}default:127.0.0.1`]);
    const ready = await kernel.inject('/readyz');
    expect(ready.json().checks['rate-limit']).to.deep.include({
      status: 'up',
      critical: false,
      details: { store: 'redis' },
    });
  });

  it('starts counting as soon as a Redis that was down at boot answers', async () => {
    const relay = await RedisRelay.start();
    await relay.cut();
    try {
      const kernel = await start({ redis: { url: relay.url() } });
      expect((await login(kernel)).statusCode, 'Redis down: auth fails closed').to.equal(503);
      await relay.resume();
      await eventually(async () => (await kernel.inject('/readyz')).json().checks['rate-limit'].status === 'up');
      const res = await login(kernel);
      expect(res.statusCode).to.equal(200);
      expect(header(res, 'ratelimit')).to.match(/^"auth"; r=9; t=\d+, "auth\.account"; r=9; t=\d+$/);
    } finally {
      await relay.cut();
    }
  });

  it('recovers without a restart when Redis comes back, keeping the counts, with one log line each way', async () => {
    const relay = await RedisRelay.start();
    const lines: LogLine[] = [];
    try {
      const kernel = await start({ redis: { url: relay.url() }, logger: memoryLogger(lines) });
      const readiness = async (): Promise<string> =>
        (await kernel.inject('/readyz')).json().checks['rate-limit'].status as string;
      expect((await login(kernel)).statusCode).to.equal(200);

      await relay.cut();
      await eventually(async () => (await readiness()) === 'degraded');
      for (let i = 0; i < 3; i++) {
        expect((await login(kernel)).statusCode, 'auth fails closed during the outage').to.equal(503);
        expect((await kernel.inject('/api/v1/notes')).statusCode, 'default fails open during the outage').to.equal(200);
      }

      await relay.resume();
      await eventually(async () => (await readiness()) === 'up');
      const after = await login(kernel);
      expect(after.statusCode).to.equal(200);
      // The attempt before the outage still counts (Redis kept it); the refused one did not.
      expect(header(after, 'ratelimit')).to.match(/^"auth"; r=8; t=\d+, "auth\.account"; r=8; t=\d+$/);

      // Operators read one warning when the outage starts and one line when it ends (the redis plugin's,
      // which every user of the shared connection feeds), not one per request, and no error line.
      const outageLines = lines.filter((l) => l.msg.startsWith('Redis') || l.level === 'error');
      expect(outageLines.map((l) => [l.level, l.msg.split(':')[0]])).to.deep.equal([
        ['warn', 'Redis unavailable'],
        ['info', 'Redis available again'],
      ]);
    } finally {
      await relay.cut();
    }
  });
});
