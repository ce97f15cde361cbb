import { generateKeyPairSync } from 'node:crypto';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { decodeProtectedHeader } from 'jose';
import { plugin as redisPlugin } from '@gantry/plugin-redis';
import { AuthJwtToken, plugin } from '../src/index.js';
import {
  appRoutes,
  AUDIENCE,
  claimPermissions,
  boot,
  forge,
  get,
  ISSUER,
  pemKey,
  problem,
  validClaims,
} from './harness.js';

describe('auth-jwt: key formats', () => {
  const pairs = {
    EdDSA: () => generateKeyPairSync('ed25519'),
    ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  } as const;

  for (const [algorithm, make] of Object.entries(pairs)) {
    it(`imports ${algorithm} private keys as PEM and as JWK, publishes only their public halves`, async () => {
      const a = make();
      const b = make();
      const keys = [
        { kid: 'pem', privateKey: a.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string },
        // A JWK given as a JSON string, the way it arrives from an environment variable.
        { kid: 'jwk', privateKey: JSON.stringify(b.privateKey.export({ format: 'jwk' })) },
      ];
      const kernel = await boot({ authJwt: { algorithm, keys } });
      try {
        const pair = await kernel.get(AuthJwtToken).issuePair('user-k');
        expect(decodeProtectedHeader(pair.accessToken)).to.include({ alg: algorithm, kid: 'jwk' });
        expect((await get(kernel, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
        const jwks = JSON.parse((await get(kernel, '/.well-known/jwks.json')).body) as {
          keys: Record<string, unknown>[];
        };
        expect(jwks.keys.map((k) => k.kid)).to.deep.equal(['pem', 'jwk']);
        for (const k of jwks.keys)
          for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k).to.not.have.property(secret);
      } finally {
        await kernel.stop();
      }
    });
  }

  it('refuses an RSA key shorter than 2048 bits', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    try {
      const kernel = await boot({
        authJwt: {
          algorithm: 'RS256',
          keys: [{ kid: 'weak', privateKey: weak.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }],
        },
      });
      await kernel.stop();
      expect.fail('booted with a 1024-bit RSA key');
    } catch (err) {
      expect((err as Error).message).to.include('weak');
    }
  });

  it('refuses a malformed Bearer credential as an invalid token', async () => {
    const kernel = await boot();
    try {
      const res = await get(kernel, '/api/v1/me', { header: 'Bearer a b c' });
      expect(res.statusCode).to.equal(401);
      expect(problem(res).code).to.equal('GANTRY_AUTH_JWT_INVALID_TOKEN');
    } finally {
      await kernel.stop();
    }
  });
});

describe('auth-jwt: redis store', () => {
  const key = pemKey('k1');
  const keys = [{ kid: key.kid, privateKey: key.privatePem }];

  it('boots with Redis unreachable, reports not ready, and answers 503 (never 500) on bearer routes', async () => {
    // Port 1 on loopback refuses at once: no Redis server is needed to see the outage behaviour.
    const kernel = await createTestKernel({
      plugins: [httpPlugin, redisPlugin, plugin, claimPermissions, appRoutes],
      config: {
        redis: { url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 },
        'auth-jwt': { issuer: ISSUER, audience: AUDIENCE, store: 'redis', keys },
      },
    });
    try {
      const ready = await kernel.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).to.equal(503);
      expect(ready.json().checks['auth-jwt']).to.deep.include({
        status: 'down',
        critical: true,
        details: { store: 'redis', error: 'unreachable' },
      });
      const tokens = kernel.get(AuthJwtToken);
      try {
        await tokens.issuePair('user-x');
        expect.fail('issued without a store');
      } catch (err) {
        expect(err).to.include({ code: 'GANTRY_AUTH_JWT_STORE_UNAVAILABLE', status: 503 });
        expect(
          (err as { cause?: { code?: string } }).cause?.code,
          "the shared connection's error is the cause",
        ).to.equal('GANTRY_REDIS_UNAVAILABLE');
      }
      // A correctly signed token still cannot be accepted: its revocations cannot be checked.
      const res = await get(kernel, '/api/v1/me', { token: await forge(key, {}, validClaims()) });
      expect(res.statusCode, res.body).to.equal(503);
      expect(res.headers['retry-after']).to.equal('1');
      expect(problem(res).code).to.equal('GANTRY_AUTH_JWT_STORE_UNAVAILABLE');
      // A forged token is still refused as such, before the store is asked.
      expect((await get(kernel, '/api/v1/me', { token: 'a.b.c' })).statusCode).to.equal(401);
    } finally {
      await kernel.stop();
    }
  });

  for (const [label, options] of [
    ['store "redis"', { config: { store: 'redis' }, profile: 'embedded' }],
    ['the default store outside the embedded profile', { config: {}, profile: 'compose' }],
  ] as const) {
    it(`refuses to boot with ${label} when the redis plugin is not enabled, saying how to fix it`, async () => {
      try {
        const kernel = await createTestKernel({
          plugins: [httpPlugin, plugin, appRoutes],
          profile: options.profile,
          config: { 'auth-jwt': { issuer: ISSUER, audience: AUDIENCE, keys, ...options.config } },
        });
        await kernel.stop();
        expect.fail('booted without the redis plugin');
      } catch (err) {
        // Found by validate(), with the other problems of the setup, before anything registers.
        const boot = err as { code?: string; message?: string; details?: { codes?: string[] } };
        expect(boot.code).to.equal('GANTRY_CORE_BOOT_INVALID');
        expect(boot.details?.codes).to.deep.equal(['GANTRY_AUTH_JWT_REDIS_REQUIRED']);
        expect(boot.message).to.include('"redis" plugin is not enabled');
        expect(boot.message).to.include('Fix: enable the "redis" plugin');
      }
    });
  }

  it('refuses the retired redisUrl and commandTimeoutMs options at boot (they belong to the redis plugin now)', async () => {
    try {
      const kernel = await boot({ authJwt: { redisUrl: 'redis://127.0.0.1:6379', commandTimeoutMs: 500 } });
      await kernel.stop();
      expect.fail('booted with retired options');
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('GANTRY_CORE_BOOT_INVALID');
      expect((err as Error).message)
        .to.include('redisUrl')
        .and.include('commandTimeoutMs');
    }
  });
});
