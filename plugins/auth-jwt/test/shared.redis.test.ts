import { randomUUID } from 'node:crypto';
import { plugin as httpPlugin } from '@gantry/http';
import { checkConformance, createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { silentLogger } from '@gantry/core';
import { type KeyWatch, plugin as redisPlugin, RedisConnection, RedisToken } from '@gantry/plugin-redis';
import { Redis } from 'ioredis';
import { authJwtConfigSchema, AuthJwtToken, plugin, TokenService } from '../src/index.js';
import { KeyRing } from '../src/key-ring.js';
import { RedisTokenStore } from '../src/redis-token-store.js';
import { appRoutes, AUDIENCE, claimPermissions, get, ISSUER, pemKey, problem } from './harness.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

describe('auth-jwt: two instances sharing Redis (through the redis plugin)', () => {
  const key = pemKey('shared-1');
  // A prefix of its own per run: parallel runs and leftovers never collide; removed in after().
  const prefix = `gantry:jwt-test:${randomUUID()}:`;
  let a: TestKernel;
  let b: TestKernel;

  // With the revocation cache (the default) kept far longer than any test: only Redis's push can make
  // an instance see another's revocation of a key it keeps.
  const bootInstance = (
    revocationCache: Record<string, unknown> = { ttlMs: 60_000 },
    url = REDIS_URL,
  ): Promise<TestKernel> =>
    createTestKernel({
      plugins: [httpPlugin, redisPlugin, plugin, claimPermissions, appRoutes],
      config: {
        redis: { url },
        'auth-jwt': {
          issuer: ISSUER,
          audience: AUDIENCE,
          store: 'redis',
          prefix,
          keys: [{ kid: key.kid, privateKey: key.privatePem }],
          revocationCache,
        },
      },
    });
  const hits = (kernel: TestKernel): number => kernel.get(AuthJwtToken).revocationCacheStats()!.hits;
  const familyOf = (token: string): string =>
    (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { fid: string }).fid;

  before(async () => {
    a = await bootInstance();
    b = await bootInstance();
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('is ready with the redis store', async () => {
    const res = await a.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode, res.body).to.equal(200);
    expect(res.json().checks['auth-jwt']).to.deep.include({
      status: 'up',
      details: { store: 'redis', kid: key.kid, revocationCache: 'live' },
    });
  });

  it("keeps its state in the shared connection's Redis, under its prefix", async () => {
    const pair = await a.get(AuthJwtToken).issuePair('user-keys');
    const { jti } = JSON.parse(Buffer.from(pair.refreshToken.split('.')[1]!, 'base64url').toString()) as {
      jti: string;
    };
    expect(await a.get(RedisToken).run((c) => c.get(`${prefix}rt:${jti}`))).to.equal('active');
    const ttl = await a.get(RedisToken).run((c) => c.ttl(`${prefix}rt:${jti}`));
    expect(ttl).to.be.within(2_592_000 - 5, 2_592_000);
  });

  it('detects on B the reuse of a refresh token rotated on A, and revokes the family everywhere', async () => {
    const first = await a.get(AuthJwtToken).issuePair('user-shared');
    const second = await a.get(AuthJwtToken).refresh(first.refreshToken);
    try {
      await b.get(AuthJwtToken).refresh(first.refreshToken);
      expect.fail('B accepted a refresh token already used on A');
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('GANTRY_AUTH_JWT_REFRESH_REUSED');
    }
    const onA = await get(a, '/api/v1/me', { token: second.accessToken });
    expect(onA.statusCode).to.equal(401);
    expect(problem(onA).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
    try {
      await a.get(AuthJwtToken).refresh(second.refreshToken);
      expect.fail('the newest refresh token survived the reuse');
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
    }
  });

  it('revokeSubject on A makes an access token B keeps in memory fail on B at the next request', async () => {
    const pair = await a.get(AuthJwtToken).issuePair('user-everywhere');
    expect((await get(b, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
    const before = hits(b);
    expect((await get(b, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
    expect(hits(b), 'B answered the second lookup from memory').to.equal(before + 1);
    expect(b.get(AuthJwtToken).revocationCacheStats()!.live).to.equal(true);

    // Returns once Redis pushed the change to A's watch, and so to B's: nothing kept for 60 s explains the 401.
    await a.get(AuthJwtToken).revokeSubject('user-everywhere');
    const res = await get(b, '/api/v1/me', { token: pair.accessToken });
    expect(res.statusCode).to.equal(401);
    expect(problem(res).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
    expect(res.headers['www-authenticate']).to.equal('Bearer error="invalid_token"');
  });

  it('returns from a revocation only once Redis has pushed it: the other instance has already forgotten the key', async () => {
    const pair = await a.get(AuthJwtToken).issuePair('user-pushed');
    expect((await get(b, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
    const kept = b.get(AuthJwtToken).revocationCacheStats()!.size;
    await a.get(AuthJwtToken).revokeSubject('user-pushed');
    // Read at once, before any other I/O: B's watch read Redis's push before A's call returned.
    expect(b.get(AuthJwtToken).revocationCacheStats()!.size).to.equal(kept - 1);
  });

  it('refuses at once a token whose family this instance revoked, though it kept the lookup in memory', async () => {
    const pair = await a.get(AuthJwtToken).issuePair('user-self');
    for (let i = 0; i < 2; i++)
      expect((await get(b, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
    await b.get(AuthJwtToken).revokeFamily(familyOf(pair.accessToken));
    const res = await get(b, '/api/v1/me', { token: pair.accessToken });
    expect(res.statusCode).to.equal(401);
    expect(problem(res).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
  });

  it("reads Redis for every lookup with revocationCache.enabled false: A's revocation fails the next request on C", async () => {
    const c = await bootInstance({ enabled: false });
    try {
      const pair = await a.get(AuthJwtToken).issuePair('user-strict');
      for (let i = 0; i < 2; i++)
        expect((await get(c, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
      expect(c.get(AuthJwtToken).revocationCacheStats()).to.equal(undefined);
      await a.get(AuthJwtToken).revokeSubject('user-strict');
      const res = await get(c, '/api/v1/me', { token: pair.accessToken });
      expect(res.statusCode).to.equal(401);
      expect(problem(res).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
    } finally {
      await c.stop();
    }
  });

  it('with a Redis that refuses CLIENT TRACKING: ready, "bypassed", and every lookup reads Redis', async () => {
    const admin = new Redis(REDIS_URL);
    const user = `gantry-jwt-test-${randomUUID().slice(0, 8)}`;
    await admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-client|tracking');
    const d = await bootInstance({}, `redis://${user}:pw@127.0.0.1:6379`);
    try {
      const ready = await d.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).to.equal(200);
      expect(ready.json().checks['auth-jwt'].details).to.deep.include({ revocationCache: 'bypassed' });
      const pair = await a.get(AuthJwtToken).issuePair('user-bypassed');
      for (let i = 0; i < 2; i++)
        expect((await get(d, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
      expect(d.get(AuthJwtToken).revocationCacheStats()).to.deep.include({ hits: 0, size: 0, live: false });
      await a.get(AuthJwtToken).revokeSubject('user-bypassed');
      expect((await get(d, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(401);
    } finally {
      await d.stop();
      await admin.call('ACL', 'DELUSER', user);
      await admin.quit();
    }
  });

  it('a refresh token rotated on B is used once only, even when A and B race', async () => {
    const pair = await a.get(AuthJwtToken).issuePair('user-race');
    const outcomes = await Promise.allSettled([
      a.get(AuthJwtToken).refresh(pair.refreshToken),
      b.get(AuthJwtToken).refresh(pair.refreshToken),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as { code?: string }).code).to.equal('GANTRY_AUTH_JWT_REFRESH_REUSED');
  });
});

describe('auth-jwt: conformance with the redis store', () => {
  it('passes every conformance check', async () => {
    const key = pemKey('conf-1');
    const results = await checkConformance({
      plugin,
      with: [httpPlugin, redisPlugin],
      config: {
        redis: { url: REDIS_URL },
        'auth-jwt': {
          issuer: ISSUER,
          audience: AUDIENCE,
          store: 'redis',
          prefix: `gantry:jwt-conf:${randomUUID()}:`,
          keys: [{ kid: key.kid, privateKey: key.privatePem }],
        },
      },
    });
    expect(results.filter((r) => !r.ok).map((r) => `${r.check}: ${r.message}`)).to.deep.equal([]);
  });
});

describe('auth-jwt: the redis store with a revocation cache whose push never arrives', () => {
  // The real Redis for every read and write; only the watch is replaced by one that says it is live and
  // never delivers: what an instance lives through between a change and its invalidation, made to last.
  const prefix = `gantry:jwt-silent:${randomUUID()}:`;
  const key = pemKey('silent-1');
  let connection: RedisConnection;
  let store: RedisTokenStore;
  let tokens: TokenService;

  before(async () => {
    connection = new RedisConnection({
      url: REDIS_URL,
      // Also how long a revocation waits for a push that never comes here.
      commandTimeoutMs: 200,
      connectTimeoutMs: 1_000,
      logger: silentLogger(),
    });
    await connection.open();
    const silent = Object.create(connection) as RedisConnection;
    silent.watchKeys = async (): Promise<KeyWatch> => ({ live: true, close: async () => undefined });
    store = new RedisTokenStore({ connection: silent, prefix, revocationCache: { max: 100, ttlMs: 60_000 } });
    await store.open();
    const config = authJwtConfigSchema.parse({
      issuer: ISSUER,
      audience: AUDIENCE,
      store: 'redis',
      keys: [{ kid: key.kid, privateKey: key.privatePem }],
    });
    tokens = new TokenService({ config, store });
    tokens.useKeyRing(await KeyRing.load(config.algorithm, config.keys!));
  });
  after(async () => {
    await store.close();
    const keys = await connection.run((c) => c.keys(`${prefix}*`));
    if (keys.length) await connection.run((c) => c.del(...keys));
    await connection.close();
  });

  const code = async (promise: Promise<unknown>): Promise<string | undefined> =>
    promise.then(
      () => undefined,
      (err: { code?: string }) => err.code,
    );

  it("sees this instance's own revocations at once, without the push", async () => {
    const pair = await tokens.issuePair('user-own');
    await tokens.verifyAccess(pair.accessToken);
    await tokens.verifyAccess(pair.accessToken);
    expect(tokens.revocationCacheStats()).to.deep.include({ hits: 1, live: true });
    const { fid } = await tokens.verifyAccess(pair.accessToken);
    await tokens.revokeFamily(fid as string);
    expect(await code(tokens.verifyAccess(pair.accessToken))).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');

    const other = await tokens.issuePair('user-own-subject');
    await tokens.verifyAccess(other.accessToken);
    await tokens.revokeSubject('user-own-subject');
    expect(await code(tokens.verifyAccess(other.accessToken))).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
  });

  it('rotates a refresh token only after reading revocations from Redis itself, never from memory', async () => {
    const pair = await tokens.issuePair('user-elsewhere');
    const { fid } = await tokens.verifyAccess(pair.accessToken);
    // Another instance's revocation, whose invalidation never reaches this one.
    await connection.run((c) => c.set(`${prefix}fam:${fid as string}`, '1', 'EX', 60));
    expect(
      (await tokens.verifyAccess(pair.accessToken)).sub,
      'the access token is still accepted from memory: the delay the push (or ttlMs) bounds',
    ).to.equal('user-elsewhere');
    expect(await code(tokens.refresh(pair.refreshToken))).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
    expect(await code(tokens.issuePair('user-elsewhere').then((p) => p.accessToken))).to.equal(undefined);
  });

  it('issues a new pair dated after a subject revocation it has not been told of', async () => {
    const first = await tokens.issuePair('user-later');
    await tokens.verifyAccess(first.accessToken);
    const notBefore = Math.floor(Date.now() / 1000);
    await connection.run((c) => c.set(`${prefix}sub:user-later`, String(notBefore), 'EX', 60));
    const fresh = await tokens.issuePair('user-later');
    const { iat } = JSON.parse(Buffer.from(fresh.accessToken.split('.')[1]!, 'base64url').toString()) as {
      iat: number;
    };
    expect(iat, 'dated after the revocation, so it survives it').to.be.greaterThan(notBefore);
  });
});
