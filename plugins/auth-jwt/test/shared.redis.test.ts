import { randomUUID } from 'node:crypto';
import { plugin as httpPlugin } from '@gantry/http';
import { checkConformance, createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { plugin as redisPlugin, RedisToken } from '@gantry/plugin-redis';
import { Redis } from 'ioredis';
import { AuthJwtToken, plugin } from '../src/index.js';
import { appRoutes, AUDIENCE, claimPermissions, get, ISSUER, pemKey, problem } from './harness.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

describe('auth-jwt: two instances sharing Redis (through the redis plugin)', () => {
  const key = pemKey('shared-1');
  // A prefix of its own per run: parallel runs and leftovers never collide; removed in after().
  const prefix = `gantry:jwt-test:${randomUUID()}:`;
  let a: TestKernel;
  let b: TestKernel;

  const bootInstance = (): Promise<TestKernel> =>
    createTestKernel({
      plugins: [httpPlugin, redisPlugin, plugin, claimPermissions, appRoutes],
      config: {
        redis: { url: REDIS_URL },
        'auth-jwt': {
          issuer: ISSUER,
          audience: AUDIENCE,
          store: 'redis',
          prefix,
          keys: [{ kid: key.kid, privateKey: key.privatePem }],
        },
      },
    });

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
    expect(res.json().checks['auth-jwt']).to.deep.include({ status: 'up', details: { store: 'redis', kid: key.kid } });
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

  it('revokeSubject on A makes the access token fail on B', async () => {
    const pair = await a.get(AuthJwtToken).issuePair('user-everywhere');
    expect((await get(b, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
    await a.get(AuthJwtToken).revokeSubject('user-everywhere');
    const res = await get(b, '/api/v1/me', { token: pair.accessToken });
    expect(res.statusCode).to.equal(401);
    expect(problem(res).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
    expect(res.headers['www-authenticate']).to.equal('Bearer error="invalid_token"');
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
