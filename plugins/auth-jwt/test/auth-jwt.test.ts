import type { TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { decodeProtectedHeader } from 'jose';
import { AuthJwtToken, type TokenService } from '../src/index.js';
import { b64, boot, forge, get, hs256WithPublicKey, pemKey, problem, validClaims, type PemKey } from './harness.js';

const INVALID = 'GANTRY_AUTH_JWT_INVALID_TOKEN';

function expect401(res: { statusCode: number; headers: Record<string, unknown>; body: string }, code: string): void {
  expect(res.statusCode, res.body).to.equal(401);
  expect(problem(res as never).code).to.equal(code);
  expect(res.headers['content-type']).to.match(/application\/problem\+json/);
  // RFC 6750 §3: a request with no credential gets a challenge without an error code.
  expect(res.headers['www-authenticate']).to.equal(
    code === 'GANTRY_HTTP_UNAUTHENTICATED' ? 'Bearer realm="api"' : 'Bearer error="invalid_token"',
  );
}

describe('auth-jwt: tokens and bearer authentication', () => {
  const key1: PemKey = pemKey('k1');
  let kernel: TestKernel;
  let tokens: TokenService;

  before(async () => {
    kernel = await boot({ keys: [key1] });
    tokens = kernel.get(AuthJwtToken);
  });
  after(async () => {
    await kernel.stop();
  });

  describe('issue and verify', () => {
    it('issues a pair whose access token authenticates a bearer route and sets the principal', async () => {
      const pair = await tokens.issuePair('user-42', { roles: ['admin'], email: 'a@example.com' });
      expect(pair.expiresIn).to.equal(900);
      expect(pair.tokenType).to.equal('Bearer');
      const res = await get(kernel, '/api/v1/me', { token: pair.accessToken });
      expect(res.statusCode, res.body).to.equal(200);
      const { principal } = JSON.parse(res.body) as { principal: Record<string, unknown> };
      expect(principal).to.include({ id: 'user-42', kind: 'user' });
      expect(principal.roles).to.deep.equal(['admin']);
      expect((principal.claims as Record<string, unknown>).email).to.equal('a@example.com');
      expect(decodeProtectedHeader(pair.accessToken)).to.include({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' });
    });

    it('verifyAccess returns the claims (iss, aud, sub, fid, custom claims)', async () => {
      const pair = await tokens.issuePair('user-7', { roles: ['reader'] });
      const claims = await tokens.verifyAccess(pair.accessToken);
      expect(claims).to.include({ sub: 'user-7', iss: 'https://auth.test', aud: 'gantry-test' });
      expect(claims.fid).to.be.a('string').with.length.greaterThan(0);
      expect(claims.exp - claims.iat).to.equal(900);
      expect(claims.roles).to.deep.equal(['reader']);
    });

    it('refuses registered claims passed as custom claims', async () => {
      for (const claim of ['sub', 'exp', 'fid', 'iss']) {
        try {
          await tokens.issuePair('user-1', { [claim]: 'x' });
          expect.fail(`issuePair accepted ${claim}`);
        } catch (err) {
          expect((err as { code?: string }).code).to.equal('GANTRY_AUTH_JWT_CLAIMS_INVALID');
        }
      }
    });

    it('authenticates routes declaring meta.permission, leaves open and public routes untouched', async () => {
      const pair = await tokens.issuePair('user-9', { permissions: ['notes:read'] });
      expect401(await get(kernel, '/api/v1/notes'), 'GANTRY_HTTP_UNAUTHENTICATED');
      const ok = await get(kernel, '/api/v1/notes', { token: pair.accessToken });
      expect(JSON.parse(ok.body)).to.deep.equal({ id: 'user-9' });
      const open = await get(kernel, '/api/v1/open', { token: 'garbage' });
      expect(open.statusCode).to.equal(200);
      expect(JSON.parse(open.body)).to.deep.equal({ principal: null });
      expect((await get(kernel, '/api/v1/public')).statusCode).to.equal(200);
      expect((await get(kernel, '/healthz')).statusCode).to.equal(200);
    });

    it('answers 401 without an Authorization header (the HTTP layer: no authenticator set a caller), MISSING_TOKEN for a non-Bearer scheme', async () => {
      expect401(await get(kernel, '/api/v1/me'), 'GANTRY_HTTP_UNAUTHENTICATED');
      expect401(await get(kernel, '/api/v1/me', { header: 'Basic dXNlcjpwYXNz' }), 'GANTRY_AUTH_JWT_MISSING_TOKEN');
    });
  });

  describe('attacks and invalid tokens → 401, never 500', () => {
    const cases: [string, () => Promise<string>, string][] = [
      ['alg: none', async () => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(validClaims())}.`, INVALID],
      [
        'alg: none with a dummy signature',
        async () => `${b64({ alg: 'none', kid: 'k1', typ: 'at+jwt' })}.${b64(validClaims())}.c2ln`,
        INVALID,
      ],
      ['an empty signature', async () => (await forge(key1, {}, validClaims())).replace(/\.[^.]+$/, '.'), INVALID],
      ['a broken signature', async () => (await forge(key1, {}, validClaims())).replace(/\.[^.]+$/, '.AAAA'), INVALID],
      [
        'HS256 signed with the public key bytes (algorithm confusion)',
        async () => hs256WithPublicKey(key1, validClaims()),
        INVALID,
      ],
      ['an unknown kid', async () => forge(key1, { kid: 'nope' }, validClaims()), INVALID],
      ['no kid', async () => forge(key1, { kid: undefined }, validClaims()), INVALID],
      ['a jku header', async () => forge(key1, { jku: 'https://evil.example/jwks.json' }, validClaims()), INVALID],
      [
        'a jwk header',
        async () => forge(key1, { jwk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } }, validClaims()),
        INVALID,
      ],
      ['an x5u header', async () => forge(key1, { x5u: 'https://evil.example/cert.pem' }, validClaims()), INVALID],
      ['no exp', async () => forge(key1, {}, validClaims({ exp: undefined })), INVALID],
      [
        'an expired exp',
        async () =>
          forge(
            key1,
            {},
            validClaims({ iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 60 }),
          ),
        'GANTRY_AUTH_JWT_TOKEN_EXPIRED',
      ],
      ['a future nbf', async () => forge(key1, {}, validClaims({ nbf: Math.floor(Date.now() / 1000) + 600 })), INVALID],
      ['a wrong aud', async () => forge(key1, {}, validClaims({ aud: 'other-api' })), INVALID],
      ['a wrong iss', async () => forge(key1, {}, validClaims({ iss: 'https://evil.example' })), INVALID],
      ['no fid', async () => forge(key1, {}, validClaims({ fid: undefined })), INVALID],
      ['no typ header', async () => forge(key1, { typ: undefined }, validClaims()), INVALID],
      ['a refresh token used as an access token', async () => (await tokens.issuePair('user-1')).refreshToken, INVALID],
      ['a token of another key with the same kid', async () => forge(pemKey('k1'), {}, validClaims()), INVALID],
      ['a malformed string', async () => 'not-a-jwt', INVALID],
      ['two segments', async () => `${b64({ alg: 'ES256' })}.${b64(validClaims())}`, INVALID],
      [
        'a non-JSON header',
        async () => `${Buffer.from('{oops').toString('base64url')}.${b64(validClaims())}.AAAA`,
        INVALID,
      ],
      ['an oversized token', async () => `${'a'.repeat(9000)}.b.c`, INVALID],
    ];
    for (const [label, make, code] of cases) {
      it(`refuses ${label} on a bearer route (${code.replace('GANTRY_AUTH_JWT_', '')})`, async () => {
        const token = await make();
        expect401(await get(kernel, '/api/v1/me', { token }), code);
        try {
          await tokens.verifyAccess(token);
          expect.fail('verifyAccess accepted it');
        } catch (err) {
          expect((err as { code?: string }).code).to.equal(code);
        }
      });
    }

    it('accepts the forged-but-valid baseline (so the cases above fail for their one difference)', async () => {
      const token = await forge(key1, {}, validClaims());
      const res = await get(kernel, '/api/v1/me', { token });
      expect(res.statusCode, res.body).to.equal(200);
    });

    it('refuses an access token presented to refresh()', async () => {
      const pair = await tokens.issuePair('user-1');
      try {
        await tokens.refresh(pair.accessToken);
        expect.fail('refresh accepted an access token');
      } catch (err) {
        expect((err as { code?: string; status?: number }).code).to.equal(INVALID);
      }
    });
  });

  describe('refresh rotation and reuse detection', () => {
    it('rotates: a new pair of the same family, the old refresh token becomes used', async () => {
      const first = await tokens.issuePair('user-r', { roles: ['editor'] });
      const second = await tokens.refresh(first.refreshToken);
      expect(second.refreshToken).to.not.equal(first.refreshToken);
      const a = await tokens.verifyAccess(first.accessToken);
      const b = await tokens.verifyAccess(second.accessToken);
      expect(b.fid).to.equal(a.fid);
      expect(b.jti).to.not.equal(a.jti);
      expect(b.roles).to.deep.equal(['editor']);
      const third = await tokens.refresh(second.refreshToken);
      expect((await tokens.verifyAccess(third.accessToken)).fid).to.equal(a.fid);
    });

    it('reuse of a used refresh token → 401 REFRESH_REUSED and the whole family is revoked', async () => {
      const first = await tokens.issuePair('user-reuse');
      const second = await tokens.refresh(first.refreshToken);
      const other = await tokens.issuePair('user-reuse');
      try {
        await tokens.refresh(first.refreshToken);
        expect.fail('reuse accepted');
      } catch (err) {
        expect((err as { code?: string; status?: number }).code).to.equal('GANTRY_AUTH_JWT_REFRESH_REUSED');
        expect((err as { status?: number }).status).to.equal(401);
      }
      // The newest refresh and access tokens of the family are dead.
      try {
        await tokens.refresh(second.refreshToken);
        expect.fail('newest refresh still works');
      } catch (err) {
        expect((err as { code?: string }).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
      }
      expect401(await get(kernel, '/api/v1/me', { token: second.accessToken }), 'GANTRY_AUTH_JWT_TOKEN_REVOKED');
      // Another session of the same user is untouched.
      expect((await get(kernel, '/api/v1/me', { token: other.accessToken })).statusCode).to.equal(200);
      await tokens.refresh(other.refreshToken);
    });

    it('revokeFamily ends one session: its access and refresh tokens fail', async () => {
      const pair = await tokens.issuePair('user-f');
      const { fid } = await tokens.verifyAccess(pair.accessToken);
      await tokens.revokeFamily(fid);
      expect401(await get(kernel, '/api/v1/me', { token: pair.accessToken }), 'GANTRY_AUTH_JWT_TOKEN_REVOKED');
      try {
        await tokens.refresh(pair.refreshToken);
        expect.fail('refresh of a revoked family accepted');
      } catch (err) {
        expect((err as { code?: string }).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
      }
    });

    it('revokeSubject kills existing access tokens of that subject only', async () => {
      const mine = await tokens.issuePair('user-s');
      const theirs = await tokens.issuePair('user-t');
      expect((await get(kernel, '/api/v1/me', { token: mine.accessToken })).statusCode).to.equal(200);
      await tokens.revokeSubject('user-s');
      expect401(await get(kernel, '/api/v1/me', { token: mine.accessToken }), 'GANTRY_AUTH_JWT_TOKEN_REVOKED');
      try {
        await tokens.refresh(mine.refreshToken);
        expect.fail('refresh after revokeSubject accepted');
      } catch (err) {
        expect((err as { code?: string }).code).to.equal('GANTRY_AUTH_JWT_TOKEN_REVOKED');
      }
      expect((await get(kernel, '/api/v1/me', { token: theirs.accessToken })).statusCode).to.equal(200);
    });

    it('a pair issued right after revokeSubject (same second) works: password change, then a fresh login', async () => {
      const old = await tokens.issuePair('user-p');
      await tokens.revokeSubject('user-p');
      const fresh = await tokens.issuePair('user-p');
      expect401(await get(kernel, '/api/v1/me', { token: old.accessToken }), 'GANTRY_AUTH_JWT_TOKEN_REVOKED');
      expect((await get(kernel, '/api/v1/me', { token: fresh.accessToken })).statusCode).to.equal(200);
      const rotated = await tokens.refresh(fresh.refreshToken);
      expect((await get(kernel, '/api/v1/me', { token: rotated.accessToken })).statusCode).to.equal(200);
    });
  });

  describe('JWKS', () => {
    it('serves the public keys only, cacheable, at the root', async () => {
      const res = await get(kernel, '/.well-known/jwks.json');
      expect(res.statusCode).to.equal(200);
      expect(res.headers['content-type']).to.match(/^application\/jwk-set\+json/);
      expect(res.headers['cache-control']).to.match(/public, max-age=\d+/);
      const { keys } = JSON.parse(res.body) as { keys: Record<string, unknown>[] };
      expect(keys).to.have.length(1);
      expect(keys[0]).to.include({ kid: 'k1', kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(Object.keys(keys[0]!).sort()).to.deep.equal(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      expect(res.body).to.not.include('"d"');
    });
  });
});

describe('auth-jwt: key rotation', () => {
  it('old kid still verifies, new tokens use the newest key, a retired public-only key still verifies', async () => {
    const k1 = pemKey('k1');
    const k2 = pemKey('k2');
    const before = await boot({ keys: [k1] });
    const old = await before.get(AuthJwtToken).issuePair('user-rot');
    await before.stop();

    const after = await boot({ keys: [k1, k2] });
    try {
      const service = after.get(AuthJwtToken);
      expect((await service.verifyAccess(old.accessToken)).sub).to.equal('user-rot');
      const fresh = await service.issuePair('user-rot');
      expect(decodeProtectedHeader(fresh.accessToken).kid).to.equal('k2');
      const jwks = JSON.parse((await get(after, '/.well-known/jwks.json')).body) as { keys: { kid: string }[] };
      expect(jwks.keys.map((k) => k.kid)).to.deep.equal(['k1', 'k2']);
    } finally {
      await after.stop();
    }

    // k1 retired: only its public key remains; its tokens still verify, it never signs.
    const retired = await boot({
      authJwt: {
        keys: [
          { kid: 'k1', publicKey: k1.publicPem },
          { kid: 'k2', privateKey: k2.privatePem },
        ],
      },
    });
    try {
      const service = retired.get(AuthJwtToken);
      expect((await service.verifyAccess(old.accessToken)).sub).to.equal('user-rot');
      expect(decodeProtectedHeader((await service.issuePair('x')).accessToken).kid).to.equal('k2');
    } finally {
      await retired.stop();
    }

    // k1 removed: its tokens are refused as signed by an unknown key.
    const removed = await boot({ keys: [k2] });
    try {
      expect401(await get(removed, '/api/v1/me', { token: old.accessToken }), INVALID);
    } finally {
      await removed.stop();
    }
  });

  it('generates an ephemeral key in the embedded profile and its tokens round-trip', async () => {
    for (const algorithm of ['EdDSA', 'ES256', 'RS256']) {
      const kernel = await boot({ authJwt: { algorithm } });
      try {
        const service = kernel.get(AuthJwtToken);
        const pair = await service.issuePair('user-e');
        expect(decodeProtectedHeader(pair.accessToken).alg).to.equal(algorithm);
        expect((await get(kernel, '/api/v1/me', { token: pair.accessToken })).statusCode).to.equal(200);
        const jwks = await get(kernel, '/.well-known/jwks.json');
        for (const secret of ['"d"', '"p"', '"q"', '"dp"', '"dq"', '"qi"']) expect(jwks.body).to.not.include(secret);
      } finally {
        await kernel.stop();
      }
    }
  });

  it('refuses to boot with a key of another algorithm, naming the kid but no key material', async () => {
    const k = pemKey('ec-key');
    try {
      const kernel = await boot({ keys: [k], authJwt: { algorithm: 'EdDSA' } });
      await kernel.stop();
      expect.fail('booted with an EC key for EdDSA');
    } catch (err) {
      const text = `${(err as Error).message} ${JSON.stringify((err as { details?: unknown }).details ?? {})}`;
      expect(text).to.include('ec-key');
      expect(text).to.not.include('PRIVATE KEY');
    }
  });

  it('refuses to boot without keys outside the embedded profile', async () => {
    const { createTestKernel } = await import('@gantry/testing');
    const { plugin: httpPlugin } = await import('@gantry/http');
    const { plugin } = await import('../src/index.js');
    try {
      const kernel = await createTestKernel({
        plugins: [httpPlugin, plugin],
        profile: 'production',
        config: { 'auth-jwt': { issuer: 'i', audience: 'a', store: 'memory' } },
      });
      await kernel.stop();
      expect.fail('booted without keys');
    } catch (err) {
      expect((err as Error).message).to.match(/keys/i);
    }
  });
});
