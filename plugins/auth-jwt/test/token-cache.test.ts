import type { ConfigChangeContext, Container, Logger } from '@gantry/core';
import { expect } from 'chai';
import { authJwtConfigSchema, AuthJwtToken, plugin, type AuthJwtOptions } from '../src/index.js';
import { KeyRing } from '../src/key-ring.js';
import { TokenService } from '../src/token-service.js';
import { MemoryTokenStore } from '../src/token-store.js';
import { AUDIENCE, boot, forge, get, ISSUER, pemKey, problem, validClaims, type PemKey } from './harness.js';

const KEY_A = pemKey('key-a');
const KEY_B = pemKey('key-b');

/** A token service on the memory store with a clock the test moves. */
async function service(
  options: { keys?: readonly PemKey[]; tokenCache?: AuthJwtOptions['tokenCache']; tolerance?: number } = {},
): Promise<{ tokens: TokenService; clock: { now: number }; store: MemoryTokenStore }> {
  const keys = (options.keys ?? [KEY_A]).map((k) => ({ kid: k.kid, privateKey: k.privatePem }));
  const config = authJwtConfigSchema.parse({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys,
    clockToleranceSeconds: options.tolerance ?? 0,
    ...(options.tokenCache ? { tokenCache: options.tokenCache } : {}),
  });
  const clock = { now: Date.now() };
  const store = new MemoryTokenStore();
  const tokens = new TokenService({ config, store, now: () => clock.now });
  tokens.useKeyRing(await KeyRing.load(config.algorithm, config.keys!));
  return { tokens, clock, store };
}

async function refusal(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('auth-jwt: verified-token cache', () => {
  it('is on by default: the second verification of a token is a hit returning the same claims', async () => {
    const { tokens } = await service();
    const token = await forge(KEY_A, {}, validClaims({ roles: ['admin'] }));
    const first = await tokens.verifyAccess(token);
    const second = await tokens.verifyAccess(token);
    expect(second).to.deep.equal(first);
    expect(second.roles).to.deep.equal(['admin']);
    // One object serves every request with this token: nobody can change what the next one sees.
    expect(Object.isFrozen(second) && Object.isFrozen(second.roles)).to.equal(true);
    expect(tokens.tokenCacheStats()).to.deep.equal({ size: 1, hits: 1, misses: 1 });
  });

  it('refuses a cached token once the clock passes its exp (tolerance applied), and forgets it', async () => {
    const { tokens, clock } = await service({ tolerance: 5 });
    const exp = Math.floor(clock.now / 1000) + 60;
    const token = await forge(KEY_A, {}, validClaims({ exp }));
    await tokens.verifyAccess(token);
    clock.now = (exp + 4) * 1000; // still within the 5 s tolerance
    expect((await tokens.verifyAccess(token)).exp).to.equal(exp);
    clock.now = (exp + 5) * 1000;
    expect(await refusal(tokens.verifyAccess(token))).to.equal('GANTRY_AUTH_JWT_TOKEN_EXPIRED');
    expect(tokens.tokenCacheStats()).to.include({ size: 0, hits: 2 });
  });

  it('refuses a cached token whose nbf is ahead of the clock (clock moved back)', async () => {
    const { tokens, clock } = await service();
    const nbf = Math.floor(clock.now / 1000) - 10;
    const token = await forge(KEY_A, {}, validClaims({ nbf }));
    await tokens.verifyAccess(token);
    clock.now = (nbf - 1) * 1000;
    expect(await refusal(tokens.verifyAccess(token))).to.equal('GANTRY_AUTH_JWT_INVALID_TOKEN');
    expect(tokens.tokenCacheStats()?.hits).to.equal(1);
  });

  it('still checks revocation on every hit: a family or subject revoked while cached is refused (HTTP 401)', async () => {
    const kernel = await boot({ keys: [KEY_A] });
    try {
      const tokens = kernel.get(AuthJwtToken);
      const one = await tokens.issuePair('user-rev');
      const two = await tokens.issuePair('user-sub');
      for (const pair of [one, two])
        for (let i = 0; i < 2; i++)
          expect((await get(kernel, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
      expect(tokens.tokenCacheStats()).to.include({ size: 2, hits: 2 });
      await tokens.revokeFamily(one.sessionId);
      await tokens.revokeSubject('user-sub');
      for (const pair of [one, two]) {
        const res = await get(kernel, '/api/v1/me', { token: pair.accessToken });
        expect(res.statusCode).to.equal(401);
        expect(problem(res).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
      }
      expect(tokens.tokenCacheStats()?.hits).to.equal(4);
    } finally {
      await kernel.stop();
    }
  });

  it('drops the entries of a key removed from the ring at once; the token is then refused (unknown kid)', async () => {
    const { tokens } = await service({ keys: [KEY_A, KEY_B] });
    const tokenA = await forge(KEY_A, {}, validClaims({ jti: 'a' }));
    const tokenB = await forge(KEY_B, {}, validClaims({ jti: 'b' }));
    await tokens.verifyAccess(tokenA);
    await tokens.verifyAccess(tokenB);
    expect(tokens.tokenCacheStats()?.size).to.equal(2);
    // key-a removed; key-b re-imported (same public key, new object): its entry is carried over.
    tokens.useKeyRing(await KeyRing.load('ES256', [{ kid: KEY_B.kid, privateKey: KEY_B.privatePem }]));
    expect(tokens.tokenCacheStats()?.size).to.equal(1);
    expect(await refusal(tokens.verifyAccess(tokenA))).to.equal('GANTRY_AUTH_JWT_INVALID_TOKEN');
    const hitsBefore = tokens.tokenCacheStats()!.hits;
    expect((await tokens.verifyAccess(tokenB)).jti).to.equal('b');
    expect(tokens.tokenCacheStats()?.hits).to.equal(hitsBefore + 1);
  });

  it('drops the entries of a kid that now names another key', async () => {
    const { tokens } = await service({ keys: [KEY_A] });
    const token = await forge(KEY_A, {}, validClaims());
    await tokens.verifyAccess(token);
    const impostor = pemKey(KEY_A.kid);
    tokens.useKeyRing(await KeyRing.load('ES256', [{ kid: impostor.kid, privateKey: impostor.privatePem }]));
    expect(tokens.tokenCacheStats()?.size).to.equal(0);
    expect(await refusal(tokens.verifyAccess(token))).to.equal('GANTRY_AUTH_JWT_INVALID_TOKEN');
  });

  it('a hot change of "keys" through onConfigChange removes the key and its cached tokens from a running kernel', async () => {
    const kernel = await boot({ keys: [KEY_A, KEY_B] });
    try {
      const tokens = kernel.get(AuthJwtToken);
      const token = await forge(KEY_A, {}, validClaims());
      expect((await get(kernel, '/api/v1/me', { token })).statusCode).to.equal(200);
      expect((await get(kernel, '/api/v1/me', { token })).statusCode).to.equal(200);
      expect(tokens.tokenCacheStats()).to.include({ size: 1, hits: 1 });
      const base = { issuer: ISSUER, audience: AUDIENCE, store: 'memory' as const };
      const prev = authJwtConfigSchema.parse({
        ...base,
        keys: [KEY_A, KEY_B].map((k) => ({ kid: k.kid, privateKey: k.privatePem })),
      });
      const next = authJwtConfigSchema.parse({ ...base, keys: [{ kid: KEY_B.kid, privateKey: KEY_B.privatePem }] });
      const silent = { info() {}, warn() {}, error() {}, debug() {} } as unknown as Logger;
      const ctx: ConfigChangeContext = {
        name: 'auth-jwt',
        container: { get: (t: never) => kernel.get(t) } as unknown as Container,
        logger: silent,
        changed: ['keys.0.kid', 'keys.0.privateKey', 'keys.1'],
      };
      expect(await plugin.onConfigChange!(prev, next, ctx)).to.equal('applied');
      expect(tokens.tokenCacheStats()?.size).to.equal(0);
      const res = await get(kernel, '/api/v1/me', { token });
      expect(res.statusCode).to.equal(401);
      expect(problem(res).code).to.equal('GANTRY_AUTH_JWT_INVALID_TOKEN');
      // Any other option still needs a restart.
      expect(await plugin.onConfigChange!(next, { ...next, issuer: 'x' }, { ...ctx, changed: ['issuer'] })).to.equal(
        'reject',
      );
    } finally {
      await kernel.stop();
    }
  });

  it('never remembers a failure: bad signature, expired, wrong audience and revoked tokens stay refused and uncached', async () => {
    const { tokens, store } = await service();
    const good = await forge(KEY_A, {}, validClaims({ jti: 'good' }));
    const [h, p, sig] = good.split('.') as [string, string, string];
    const badSig = `${h}.${p}.${sig.slice(0, -4)}${sig.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    const now = Math.floor(Date.now() / 1000);
    const expired = await forge(KEY_A, {}, validClaims({ jti: 'old', iat: now - 600, exp: now - 300 }));
    const wrongAud = await forge(KEY_A, {}, validClaims({ jti: 'aud', aud: 'someone-else' }));
    const revoked = await forge(KEY_A, {}, validClaims({ jti: 'rev', fid: 'fam-revoked' }));
    await store.revokeFamily('fam-revoked', 3600);
    for (let i = 0; i < 2; i++) {
      expect(await refusal(tokens.verifyAccess(badSig))).to.equal('GANTRY_AUTH_JWT_INVALID_TOKEN');
      expect(await refusal(tokens.verifyAccess(expired))).to.equal('GANTRY_AUTH_JWT_TOKEN_EXPIRED');
      expect(await refusal(tokens.verifyAccess(wrongAud))).to.equal('GANTRY_AUTH_JWT_INVALID_TOKEN');
      expect(await refusal(tokens.verifyAccess(revoked))).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
    }
    expect(tokens.tokenCacheStats()).to.deep.equal({ size: 0, hits: 0, misses: 8 });
    // The good token with the same header and payload is unaffected by its forged sibling.
    expect((await tokens.verifyAccess(good)).jti).to.equal('good');
    expect(await refusal(tokens.verifyAccess(badSig))).to.equal('GANTRY_AUTH_JWT_INVALID_TOKEN');
  });

  it('holds at most tokenCache.max entries, dropping the least recently used', async () => {
    const { tokens } = await service({ tokenCache: { max: 3 } });
    const list = await Promise.all([1, 2, 3, 4, 5].map((i) => forge(KEY_A, {}, validClaims({ jti: `t${i}` }))));
    await tokens.verifyAccess(list[0]!);
    await tokens.verifyAccess(list[1]!);
    await tokens.verifyAccess(list[2]!);
    await tokens.verifyAccess(list[0]!); // t1 is now the most recently used
    await tokens.verifyAccess(list[3]!); // pushes out t2
    await tokens.verifyAccess(list[4]!); // pushes out t3
    expect(tokens.tokenCacheStats()).to.deep.equal({ size: 3, hits: 1, misses: 5 });
    await tokens.verifyAccess(list[0]!); // still there
    await tokens.verifyAccess(list[1]!); // was dropped: verified again
    expect(tokens.tokenCacheStats()).to.deep.equal({ size: 3, hits: 2, misses: 6 });
  });

  it('forgets an entry after ttlMs (a miss verifies the token again)', async () => {
    const { tokens } = await service({ tokenCache: { ttlMs: 1_000 } });
    const token = await forge(KEY_A, {}, validClaims());
    await tokens.verifyAccess(token);
    const deadline = Date.now() + 5_000;
    // lru-cache measures the TTL on its own monotonic clock: wait for it, bounded.
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const before = tokens.tokenCacheStats()!.misses;
      await tokens.verifyAccess(token);
      if (tokens.tokenCacheStats()!.misses > before) break;
    }
    expect(tokens.tokenCacheStats()!.misses).to.equal(2);
  });

  it('disabled: every request verifies, revocation and expiry still work, no stats', async () => {
    const kernel = await boot({ keys: [KEY_A], authJwt: { tokenCache: { enabled: false } } });
    try {
      const tokens = kernel.get(AuthJwtToken);
      expect(tokens.tokenCacheStats()).to.equal(undefined);
      const pair = await tokens.issuePair('user-nc');
      expect((await get(kernel, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
      expect((await get(kernel, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
      await tokens.revokeFamily(pair.sessionId);
      expect((await get(kernel, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(401);
      const now = Math.floor(Date.now() / 1000);
      const expired = await forge(KEY_A, {}, validClaims({ iat: now - 600, exp: now - 300 }));
      expect(problem(await get(kernel, '/api/v1/me', { token: expired })).code).to.equal(
        'GANTRY_AUTH_JWT_TOKEN_EXPIRED',
      );
    } finally {
      await kernel.stop();
    }
  });
});
