import { randomUUID } from 'node:crypto';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as redisPlugin } from '@gantry/plugin-redis';
import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { plugin, SessionsToken } from '../src/index.js';
import { Browser, codeOf, Kernels, permissionStandIn, sleep, type StoreTarget } from './support/harness.js';
import { sessionsSuite } from './support/suite.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SECRET = 'a-csrf-secret-of-the-test-suite-0001';
// Every run gets prefixes of its own (parallel runs and leftovers never collide); removed in after().
const RUN = `gantry:sess-test:${randomUUID().slice(0, 8)}:`;

/** The redis store; each kernel a fresh prefix unless one is given, so tests never see each other's sessions. */
function redisTarget(prefix?: string): StoreTarget {
  return {
    name: 'redis',
    plugins: [redisPlugin],
    config: () => ({
      redis: { url: REDIS_URL },
      'sessions-redis': { store: 'redis', prefix: prefix ?? `${RUN}${randomUUID()}:`, csrfSecret: SECRET },
    }),
  };
}

after(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${RUN}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

sessionsSuite(redisTarget());

describe('sessions-redis: two instances sharing Redis', function () {
  this.timeout(20_000);
  const kernels = new Kernels(redisTarget(`${RUN}shared:`));
  afterEach(() => kernels.stopAll());

  it('a session created on A is valid on B (CSRF token included); logout on A → 401 on B', async () => {
    const { tk: a } = await kernels.boot();
    const { tk: b } = await kernels.boot();
    const browser = new Browser();
    const { id } = await browser.login(a, 'alice');
    const onB = await browser.send(b, { method: 'GET', url: '/api/v1/whoami' });
    expect(onB.statusCode, onB.body).to.equal(200);
    expect(JSON.parse(onB.body).principal).to.include({ id: 'alice', sessionId: id });
    expect((await browser.post(b, '/api/v1/notes')).statusCode).to.equal(201);
    const cookie = browser.sessionCookie!;
    expect((await browser.post(a, '/api/v1/logout-test')).statusCode).to.equal(204);
    const replay = await b.inject({
      method: 'GET',
      url: '/api/v1/whoami',
      headers: { cookie: `__Host-gantry.sid=${cookie}` },
    });
    expect(replay.statusCode).to.equal(401);
    expect(codeOf(replay)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_INVALID');
  });

  it('a session revoked on A answers 401 on B, and B lists what A registered', async () => {
    const { tk: a, revoked } = await kernels.boot();
    const { tk: b } = await kernels.boot();
    const laptop = new Browser();
    await laptop.login(a, 'bob');
    const phone = new Browser();
    const phoneSession = await phone.login(b, 'bob');
    await a.get(SessionsToken).register({ id: `family-${randomUUID()}`, userId: 'bob', ttlSeconds: 600 });
    // Listed newest first by creation millisecond; two of these can share one, so compare as a multiset.
    expect((await b.get(SessionsToken).list('bob')).map((s) => s.kind).sort()).to.deep.equal([
      'cookie',
      'cookie',
      'token',
    ]);
    const res = await laptop.send(a, {
      method: 'DELETE',
      url: `/api/v1/auth/sessions/${phoneSession.id}`,
      headers: { 'x-csrf-token': laptop.csrfToken! },
    });
    expect(res.statusCode).to.equal(204);
    expect(revoked.map((r) => r.id)).to.deep.equal([phoneSession.id]);
    expect((await phone.send(b, { method: 'GET', url: '/api/v1/whoami' })).statusCode).to.equal(401);
    expect(await a.get(SessionsToken).revokeUser('bob')).to.equal(2);
    expect((await laptop.send(b, { method: 'GET', url: '/api/v1/whoami' })).statusCode).to.equal(401);
  });

  it('an idle timeout slid on A is seen on B', async () => {
    const { tk: a } = await kernels.boot({ idleTimeoutSeconds: 1, absoluteTimeoutSeconds: 60 });
    const { tk: b } = await kernels.boot({ idleTimeoutSeconds: 1, absoluteTimeoutSeconds: 60 });
    const browser = new Browser();
    await browser.login(a, 'carol');
    await sleep(600);
    expect((await browser.send(a, { method: 'GET', url: '/api/v1/whoami' })).statusCode).to.equal(200);
    await sleep(600);
    // 1.2 s after sign-in, 0.6 s after the last request (on A): alive on B.
    expect((await browser.send(b, { method: 'GET', url: '/api/v1/whoami' })).statusCode).to.equal(200);
    await sleep(1_100);
    const res = await browser.send(a, { method: 'GET', url: '/api/v1/whoami' });
    expect(codeOf(res)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_EXPIRED');
  });

  it('csrfSecret rotation: a token signed by the old secret is accepted while it is listed, refused once it is dropped', async () => {
    const { tk: a } = await kernels.boot({ csrfSecret: SECRET });
    const { tk: rotated } = await kernels.boot({ csrfSecret: ['a-brand-new-csrf-secret-000000000001', SECRET] });
    const { tk: dropped } = await kernels.boot({ csrfSecret: 'a-brand-new-csrf-secret-000000000001' });
    const browser = new Browser();
    await browser.login(a, 'dave');
    expect((await browser.post(rotated, '/api/v1/notes')).statusCode).to.equal(201);
    expect(codeOf(await browser.post(dropped, '/api/v1/notes'))).to.equal('GANTRY_SESSIONS_REDIS_CSRF_INVALID');
  });

  it('stores only a SHA-256 of the cookie value: no key or value in Redis contains it', async () => {
    const { tk } = await kernels.boot();
    const browser = new Browser();
    const { id } = await browser.login(tk, 'erin');
    const cookie = browser.sessionCookie!;
    const redis = new Redis(REDIS_URL);
    try {
      const keys = await redis.keys(`${RUN}shared:*`);
      const strings = keys.filter((k) => !k.includes(':u:'));
      const values = strings.length ? await redis.mget(...strings) : [];
      expect(keys.join('\n')).to.not.include(cookie);
      expect(values.join('\n')).to.not.include(cookie);
      expect(keys).to.include(`${RUN}shared:id:${id}`);
      const ttl = await redis.pttl(`${RUN}shared:id:${id}`);
      // Kept until the absolute end plus one idle timeout: 12 h + 30 min.
      expect(ttl).to.be.within(45_000_000 - 5_000, 45_000_000);
    } finally {
      await redis.quit();
    }
  });
});

describe('sessions-redis: Redis outage', function () {
  this.timeout(20_000);
  const kernels = new Kernels({
    name: 'redis',
    plugins: [redisPlugin],
    config: () => ({
      redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 200, commandTimeoutMs: 100 },
      'sessions-redis': { store: 'redis', prefix: `${RUN}down:`, csrfSecret: SECRET },
    }),
  });
  afterEach(() => kernels.stopAll());

  it('answers 503 GANTRY_SESSIONS_REDIS_STORE_UNAVAILABLE, and readiness is down', async () => {
    const { tk } = await kernels.boot();
    const res = await tk.inject({
      method: 'GET',
      url: '/api/v1/whoami',
      headers: { cookie: `__Host-gantry.sid=${'a'.repeat(43)}` },
    });
    expect(res.statusCode).to.equal(503);
    expect(codeOf(res)).to.equal('GANTRY_SESSIONS_REDIS_STORE_UNAVAILABLE');
    expect(res.headers['retry-after']).to.equal('1');
    const login = await tk.inject({ method: 'POST', url: '/api/v1/login-test', payload: { userId: 'x' } });
    expect(login.statusCode).to.equal(503);
    const ready = await tk.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).to.equal(503);
    expect(JSON.parse(ready.body).checks['sessions-redis'].status).to.equal('down');
  });
});

describe('sessions-redis: conformance with the redis store', () => {
  it('passes every conformance check', async () => {
    const results = await checkConformance({
      plugin,
      with: [httpPlugin, redisPlugin, permissionStandIn],
      config: {
        redis: { url: REDIS_URL },
        'sessions-redis': { store: 'redis', prefix: `${RUN}conf:`, csrfSecret: SECRET },
      },
    });
    expect(results.filter((r) => !r.ok).map((r) => `${r.check}: ${r.message}`)).to.deep.equal([]);
  });
});
