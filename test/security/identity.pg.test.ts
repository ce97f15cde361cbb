// The issue's must-hold list, against the real PostgreSQL, Redis and MailDev, on two instances.
import { createPrivateKey, createPublicKey, createHmac } from 'node:crypto';
import { HttpServerToken } from '@gantry/http';
import { expect } from 'chai';
import { SignJWT, base64url } from 'jose';
import { generate } from 'otplib';
import {
  AUDIENCE,
  Cluster,
  cookieFrom,
  cookiesFrom,
  ISSUER,
  linkIn,
  mailCount,
  mailTo,
  type Reply,
  BASE_URL,
} from './support/stack.js';

const PW = 'Correct-Horse-Battery-9';
const NEW_PW = 'Another-Stapled-Horse-4';

describe('identity stack: must-hold properties (PostgreSQL, Redis, MailDev, two instances)', function () {
  this.timeout(60_000);
  const cluster = new Cluster();
  let n = 0;
  /** A fresh, verified account through the HTTP contract. */
  const account = async (password = PW): Promise<{ email: string; id: string }> => {
    const email = `user${++n}-${Date.now()}@example.com`;
    const signup = await cluster.a.call('POST', '/api/v1/auth/signup', {
      body: { email, password, name: `User ${n}` },
    });
    expect(signup.status, signup.text).to.equal(201);
    const { token } = linkIn((await mailTo(cluster, email, /Verify your email/)).text);
    expect((await cluster.b.call('POST', '/api/v1/auth/verify-email', { body: { token } })).status).to.equal(204);
    return { email, id: signup.body.id };
  };
  const login = async (email: string, password = PW): Promise<{ accessToken: string; refreshToken: string }> => {
    const res = await cluster.a.call('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(res.status, res.text).to.equal(200);
    return res.body;
  };
  const expectCode = (res: Reply, status: number, code: string): void => {
    expect(res.status, res.text).to.equal(status);
    expect(res.headers['content-type']).to.match(/application\/problem\+json/);
    expect(res.body.code).to.equal(code);
  };

  before(() => cluster.start());
  after(() => cluster.stop());

  describe('1. forged and misused JWTs → 401, never 500', () => {
    let userId: string;
    let refreshToken: string;
    before(async () => {
      const { email, id } = await account();
      userId = id;
      refreshToken = (await login(email)).refreshToken;
    });
    const sign = (
      header: Record<string, unknown>,
      claims: Record<string, unknown>,
      key = cluster.key.privateKey,
    ): Promise<string> =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: cluster.kid, typ: 'at+jwt', ...header } as never)
        .sign(key);
    const now = () => Math.floor(Date.now() / 1000);
    const good = () => ({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: userId,
      jti: 'j1',
      fid: 'f1',
      iat: now(),
      exp: now() + 300,
    });
    const segment = (v: unknown) => base64url.encode(JSON.stringify(v));

    it('refuses each forgery on a protected route with 401 problem+json', async () => {
      const valid = await sign({}, good());
      const [h, p] = valid.split('.');
      const publicPem = createPublicKey(
        createPrivateKey(cluster.key.privateKey.export({ type: 'pkcs8', format: 'pem' })),
      ).export({ type: 'spki', format: 'pem' }) as string;
      const hsHeader = segment({ alg: 'HS256', kid: cluster.kid, typ: 'at+jwt' });
      const hsSig = createHmac('sha256', publicPem).update(`${hsHeader}.${p}`).digest('base64url');
      const { exp: _exp, ...noExp } = good();
      const forged: Record<string, string> = {
        'alg none': `${segment({ alg: 'none', typ: 'at+jwt' })}.${p}.`,
        'empty signature': `${h}.${p}.`,
        'HS256 signed with the public key': `${hsHeader}.${p}.${hsSig}`,
        'unknown kid': await sign({ kid: 'nope' }, good()),
        'jku header': await sign({ jku: 'https://evil.example/jwks.json' }, good()),
        'jwk header': await sign({ jwk: cluster.key.publicKey.export({ format: 'jwk' }) }, good()),
        'no exp': await sign({}, noExp),
        'expired exp': await sign({}, { ...good(), iat: now() - 7200, exp: now() - 3600 }),
        'future nbf': await sign({}, { ...good(), nbf: now() + 3600 }),
        'wrong aud': await sign({}, { ...good(), aud: 'someone-else' }),
        'wrong iss': await sign({}, { ...good(), iss: 'https://evil.example' }),
        'refresh token as access token': refreshToken,
        'tampered payload': `${h}.${segment({ ...good(), sub: 'admin' })}.${valid.split('.')[2]}`,
      };
      // The valid token is accepted: the refusals below are about the forgery, not the setup.
      expect((await cluster.a.call('GET', '/api/v1/users/me', { token: valid })).status).to.equal(200);
      for (const [name, token] of Object.entries(forged)) {
        const res = await cluster.b.call('GET', '/api/v1/users/me', { token });
        expect(res.status, `${name}: ${res.text}`).to.equal(401);
        expect(res.body.code, name).to.match(/^GANTRY_AUTH_JWT_/);
      }
    });
  });

  describe('2. refresh token reuse', () => {
    it('answers 401 to the second use and revokes every token of the family on every instance', async () => {
      const { email } = await account();
      const first = await login(email);
      const rotated = await cluster.a.call('POST', '/api/v1/auth/refresh', {
        body: { refreshToken: first.refreshToken },
      });
      expect(rotated.status, rotated.text).to.equal(200);
      expectCode(
        await cluster.b.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: first.refreshToken } }),
        401,
        'GANTRY_AUTH_JWT_REFRESH_REUSED',
      );
      expectCode(
        await cluster.a.call('GET', '/api/v1/users/me', { token: rotated.body.accessToken }),
        401,
        'GANTRY_AUTH_JWT_TOKEN_REVOKED',
      );
      expect(
        (await cluster.b.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: rotated.body.refreshToken } }))
          .status,
      ).to.equal(401);
    });
  });

  describe('3. logout, password change and disable end tokens and cookies on the other instance', () => {
    const cookieLogin = async (email: string, password = PW): Promise<{ cookie: string; csrf: string }> => {
      const res = await cluster.a.call('POST', '/api/v1/auth/login', { body: { email, password, session: true } });
      expect(res.status, res.text).to.equal(200);
      // The session cookie and csrf-csrf's double-submit cookie, as a browser would keep them.
      return { cookie: cookiesFrom(res), csrf: res.body.csrfToken };
    };

    it('logout (bearer) revokes the access token everywhere', async () => {
      const { email } = await account();
      const pair = await login(email);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { token: pair.accessToken })).status).to.equal(200);
      expect((await cluster.a.call('POST', '/api/v1/auth/logout', { token: pair.accessToken })).status).to.equal(204);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { token: pair.accessToken })).status).to.equal(401);
      expect(
        (await cluster.b.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: pair.refreshToken } })).status,
      ).to.equal(401);
    });

    it('logout (cookie) ends the session everywhere', async () => {
      const { email } = await account();
      const { cookie, csrf } = await cookieLogin(email);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { cookie })).status).to.equal(200);
      expect(
        (await cluster.a.call('POST', '/api/v1/auth/logout', { cookie, headers: { 'x-csrf-token': csrf } })).status,
      ).to.equal(204);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { cookie })).status).to.equal(401);
    });

    it('a password change ends the old access token and the old cookie everywhere', async () => {
      const { email } = await account();
      const pair = await login(email);
      const { cookie } = await cookieLogin(email);
      const change = await cluster.a.call('POST', '/api/v1/auth/password/change', {
        token: pair.accessToken,
        body: { currentPassword: PW, newPassword: NEW_PW },
      });
      expect(change.status, change.text).to.equal(204);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { token: pair.accessToken })).status).to.equal(401);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { cookie })).status).to.equal(401);
      expect((await cluster.b.call('POST', '/api/v1/auth/login', { body: { email, password: PW } })).status).to.equal(
        401,
      );
      await login(email, NEW_PW);
    });

    it('disabling an account ends its tokens and cookies everywhere and refuses new sign-ins', async () => {
      await cluster.admin('admin3@example.com', PW);
      const admin = await login('admin3@example.com');
      const { email, id } = await account();
      const pair = await login(email);
      const { cookie } = await cookieLogin(email);
      const disable = await cluster.a.call('PATCH', `/api/v1/users/${id}`, {
        token: admin.accessToken,
        body: { status: 'disabled' },
      });
      expect(disable.status, disable.text).to.equal(200);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { token: pair.accessToken })).status).to.equal(401);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { cookie })).status).to.equal(401);
      expectCode(
        await cluster.b.call('POST', '/api/v1/auth/login', { body: { email, password: PW } }),
        403,
        'GANTRY_USERS_ACCOUNT_DISABLED',
      );
    });
  });

  describe('4. no user enumeration at sign-in', () => {
    it('answers an unknown email and a wrong password with the same status, body and comparable time', async () => {
      const { email } = await account();
      const strip = (b: Record<string, unknown>) => ({ ...b, instance: undefined, requestId: undefined });
      const time = async (body: unknown): Promise<{ ms: number; res: Reply }> => {
        const t0 = performance.now();
        const res = await cluster.b.call('POST', '/api/v1/auth/login', { body });
        return { ms: performance.now() - t0, res };
      };
      const unknown: number[] = [];
      const wrong: number[] = [];
      let last: [Reply, Reply] | undefined;
      for (let i = 0; i < 5; i++) {
        const u = await time({ email: `nobody-${i}@example.com`, password: PW });
        const w = await time({ email, password: `${PW}-${i}` });
        unknown.push(u.ms);
        wrong.push(w.ms);
        last = [u.res, w.res];
      }
      const [u, w] = last!;
      expect(u.status).to.equal(401);
      expect(w.status).to.equal(401);
      expect(strip(u.body)).to.deep.equal(strip(w.body));
      // Both paths run one argon2id verification (tens of ms); the medians stay within a factor of 2.
      const median = (xs: number[]) => xs.sort((x, y) => x - y)[2]!;
      const ratio = median(unknown) / median(wrong);
      expect(ratio, `unknown ${median(unknown).toFixed(1)} ms vs wrong ${median(wrong).toFixed(1)} ms`).to.be.within(
        0.5,
        2,
      );
    });
  });

  describe('5. password reset', () => {
    it('answers the same 202 for unknown and known emails; links use the configured base URL, never Host', async () => {
      const { email } = await account();
      const before = await mailCount(cluster);
      const known = await cluster.a.call('POST', '/api/v1/auth/password/forgot', {
        body: { email },
        headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
      });
      const unknown = await cluster.a.call('POST', '/api/v1/auth/password/forgot', {
        body: { email: 'nobody@example.com' },
      });
      expect(known.status).to.equal(202);
      expect(unknown.status).to.equal(202);
      expect(known.text).to.equal(unknown.text);
      const mail = await mailTo(cluster, email, /Reset your password/, before);
      const { link } = linkIn(mail.text);
      expect(link.startsWith(`${BASE_URL}/reset-password?token=`), link).to.equal(true);
      expect(mail.text).to.not.include('evil.example');
    });

    it('makes a reset token single-use, voided by a newer one, and expiring', async () => {
      const { email, id } = await account();
      let before = await mailCount(cluster);
      await cluster.a.call('POST', '/api/v1/auth/password/forgot', { body: { email } });
      const older = linkIn((await mailTo(cluster, email, /Reset your password/, before)).text).token;
      before = await mailCount(cluster);
      await cluster.a.call('POST', '/api/v1/auth/password/forgot', { body: { email } });
      const newer = linkIn((await mailTo(cluster, email, /Reset your password/, before)).text).token;
      expect(newer).to.not.equal(older);
      expectCode(
        await cluster.b.call('POST', '/api/v1/auth/password/reset', { body: { token: older, password: NEW_PW } }),
        400,
        'GANTRY_USERS_TOKEN_INVALID',
      );
      // A refused password does not spend the token.
      expectCode(
        await cluster.b.call('POST', '/api/v1/auth/password/reset', {
          body: { token: newer, password: 'password123' },
        }),
        400,
        'GANTRY_USERS_PASSWORD_WEAK',
      );
      expect(
        (await cluster.b.call('POST', '/api/v1/auth/password/reset', { body: { token: newer, password: NEW_PW } }))
          .status,
      ).to.equal(204);
      expectCode(
        await cluster.a.call('POST', '/api/v1/auth/password/reset', { body: { token: newer, password: `${NEW_PW}x` } }),
        400,
        'GANTRY_USERS_TOKEN_INVALID',
      );
      await login(email, NEW_PW);
      // Expiry: a fresh token whose expiry has passed (moved back in the database) is refused.
      before = await mailCount(cluster);
      await cluster.a.call('POST', '/api/v1/auth/password/forgot', { body: { email } });
      const expiring = linkIn((await mailTo(cluster, email, /Reset your password/, before)).text).token;
      await cluster.sql(
        `update {s}.user_token set expires_at = now() - interval '1 second' where user_id = ? and consumed_at is null`,
        [id],
      );
      expectCode(
        await cluster.a.call('POST', '/api/v1/auth/password/reset', {
          body: { token: expiring, password: `${NEW_PW}y` },
        }),
        400,
        'GANTRY_USERS_TOKEN_INVALID',
      );
    });
  });

  /** Enrols TOTP for a signed-in account; returns the secret and the recovery codes. */
  const enrol = async (token: string): Promise<{ secret: string; recoveryCodes: string[] }> => {
    const enroll = await cluster.a.call('POST', '/api/v1/auth/mfa/totp/enroll', { token });
    expect(enroll.status, enroll.text).to.equal(200);
    expect(enroll.body.otpauthUrl).to.match(/^otpauth:\/\/totp\//);
    const confirm = await cluster.b.call('POST', '/api/v1/auth/mfa/totp/confirm', {
      token,
      body: { code: await totp(enroll.body.secret, -1) },
    });
    expect(confirm.status, confirm.text).to.equal(200);
    expect(confirm.body.recoveryCodes).to.have.length(10);
    return { secret: enroll.body.secret, recoveryCodes: confirm.body.recoveryCodes };
  };
  const totp = async (secret: string, steps = 0): Promise<string> =>
    String(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 }));
  /** A six-digit code valid at none of the accepted steps. */
  const wrongCode = async (secret: string): Promise<string> => {
    const valid = new Set(await Promise.all([-1, 0, 1, 2].map((k) => totp(secret, k))));
    return ['000000', '111111', '222222', '333333', '444444'].find((c) => !valid.has(c))!;
  };
  const challenge = async (email: string): Promise<string> => {
    const res = await cluster.a.call('POST', '/api/v1/auth/login', { body: { email, password: PW } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.mfaRequired).to.equal(true);
    return res.body.mfaToken;
  };

  describe('6. TOTP', () => {
    it('refuses a replayed code and a code two steps old; a recovery code works once', async () => {
      const { email } = await account();
      const { secret, recoveryCodes } = await enrol((await login(email)).accessToken);
      const code = await totp(secret, 1);
      const first = await cluster.a.call('POST', '/api/v1/auth/mfa/verify', {
        body: { mfaToken: await challenge(email), code },
      });
      expect(first.status, first.text).to.equal(200);
      expect(first.body.accessToken).to.be.a('string');
      const replay = await cluster.b.call('POST', '/api/v1/auth/mfa/verify', {
        body: { mfaToken: await challenge(email), code },
      });
      expect(replay.status, replay.text).to.equal(401);
      const old = await cluster.b.call('POST', '/api/v1/auth/mfa/verify', {
        body: { mfaToken: await challenge(email), code: await totp(secret, -2) },
      });
      expect(old.status, old.text).to.equal(401);
      // The secret is shown at enrolment only: never in the profile.
      const me = await cluster.a.call('GET', '/api/v1/users/me', { token: first.body.accessToken });
      expect(me.status).to.equal(200);
      expect(me.text).to.not.include(secret);
      const recovery = recoveryCodes[0]!;
      expect(
        (
          await cluster.a.call('POST', '/api/v1/auth/mfa/verify', {
            body: { mfaToken: await challenge(email), code: recovery },
          })
        ).status,
      ).to.equal(200);
      expect(
        (
          await cluster.b.call('POST', '/api/v1/auth/mfa/verify', {
            body: { mfaToken: await challenge(email), code: recovery },
          })
        ).status,
      ).to.equal(401);
    });

    it('refuses the 6th attempt after 5 wrong codes in a row, even with the right code', async () => {
      const { email } = await account();
      const { secret } = await enrol((await login(email)).accessToken);
      for (let i = 0; i < 5; i++) {
        const wrong = await (i % 2 ? cluster.a : cluster.b).call('POST', '/api/v1/auth/mfa/verify', {
          body: { mfaToken: await challenge(email), code: await wrongCode(secret) },
        });
        expect(wrong.status, wrong.text).to.equal(401);
      }
      const sixth = await cluster.a.call('POST', '/api/v1/auth/mfa/verify', {
        body: { mfaToken: await challenge(email), code: await totp(secret, 1) },
      });
      expect(sixth.status, sixth.text).to.equal(429);
      expect(sixth.body.code).to.equal('GANTRY_MFA_LOCKED');
    });
  });

  describe('7. session fixation', () => {
    it('gives a new session id at login when one was planted, and the planted one stays dead', async () => {
      const { email } = await account();
      const planted = '__Host-gantry.sid=' + 'A'.repeat(43);
      const res = await cluster.a.call('POST', '/api/v1/auth/login', {
        body: { email, password: PW, session: true },
        cookie: planted,
      });
      expect(res.status, res.text).to.equal(200);
      const fresh = cookieFrom(res, '__Host-gantry.sid')!;
      expect(fresh).to.be.a('string').and.not.equal(planted);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { cookie: fresh })).status).to.equal(200);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { cookie: planted })).status).to.equal(401);
    });
  });

  describe('8. authorization', () => {
    it('answers 403 to a non-admin on every admin route, and hides other accounts', async () => {
      const a = await account();
      const b = await account();
      const token = (await login(a.email)).accessToken;
      const admin = cluster.a.tk
        .get(HttpServerToken)
        .routes()
        .filter((r) =>
          typeof r.meta.permission === 'string'
            ? r.meta.permission !== 'authenticated'
            : Array.isArray(r.meta.permission),
        );
      expect(admin.length).to.be.greaterThan(6);
      for (const route of admin) {
        const url = route.path.replace(':id', b.id);
        const res = await cluster.b.call(route.method, url, {
          token,
          body: route.method === 'GET' || route.method === 'DELETE' ? undefined : {},
        });
        expect(res.status, `${route.method} ${url}: ${res.text}`).to.equal(403);
        expect(res.body.code).to.equal('GANTRY_RBAC_FORBIDDEN');
      }
      // Still there, unchanged.
      const adminId = await cluster.admin('admin8@example.com', PW);
      const adminToken = (await login('admin8@example.com')).accessToken;
      expect((await cluster.a.call('GET', `/api/v1/users/${b.id}`, { token: adminToken })).body.status).to.equal(
        'active',
      );
      expect(adminId).to.be.a('string');
    });

    it('refuses PATCH /users/me with a role, and never returns a password hash', async () => {
      const a = await account();
      const token = (await login(a.email)).accessToken;
      const res = await cluster.a.call('PATCH', '/api/v1/users/me', { token, body: { role: 'admin' } });
      expectCode(res, 400, 'GANTRY_HTTP_VALIDATION');
      const roles = await cluster.a.call('PATCH', '/api/v1/users/me', {
        token,
        body: { name: 'Still User', roles: ['admin'] },
      });
      expect(roles.status).to.equal(400);
      expect((await cluster.b.call('GET', '/api/v1/users/me', { token })).body.roles).to.deep.equal(['user']);
      expect(cluster.seen.join('\n')).to.not.match(/\$argon2|passwordHash|password_hash/);
    });
  });

  describe('9. hostile input is data', () => {
    it('stores SQL and script payloads as plain text, served as JSON only', async () => {
      const payloads = [
        `Robert'); DROP TABLE user_account;--`,
        '<script>alert(1)</script>',
        '" OR 1=1 --',
        '${7*7}{{7*7}}',
      ];
      for (const name of payloads) {
        const email = `x${++n}@example.com`;
        const res = await cluster.a.call('POST', '/api/v1/auth/signup', { body: { email, password: PW, name } });
        expect(res.status, res.text).to.equal(201);
        expect(res.body.name).to.equal(name);
        expect(res.headers['content-type']).to.match(/^application\/json/);
        expect(res.headers['x-content-type-options']).to.equal('nosniff');
      }
      const sqlEmail = await cluster.a.call('POST', '/api/v1/auth/login', {
        body: { email: `' OR '1'='1@example.com`, password: `' OR '1'='1` },
      });
      expect([400, 401]).to.include(sqlEmail.status);
      expect((await cluster.sql('select count(*) as c from {s}.user_account'))[0]).to.be.an('object');
    });

    it('answers 413 to a body over the limit and 400 to malformed JSON', async () => {
      expectCode(
        await cluster.a.call('POST', '/api/v1/auth/signup', {
          body: JSON.stringify({ email: 'big@example.com', password: PW, name: 'x'.repeat(20_000) }),
        }),
        413,
        'GANTRY_HTTP_PAYLOAD_TOO_LARGE',
      );
      expectCode(
        await cluster.a.call('POST', '/api/v1/auth/login', { body: '{"email": "a@example.com", "password": ' }),
        400,
        'GANTRY_HTTP_MALFORMED_JSON',
      );
    });
  });

  describe('10. CSRF on cookie routes', () => {
    it('refuses a cross-site cookie POST without a valid CSRF token, and leaves bearer requests alone', async () => {
      const { email } = await account();
      const res = await cluster.a.call('POST', '/api/v1/auth/login', { body: { email, password: PW, session: true } });
      const cookie = cookiesFrom(res);
      const csrf = res.body.csrfToken as string;
      const noToken = await cluster.b.call('PATCH', '/api/v1/users/me', {
        cookie,
        body: { name: 'Hacked' },
        headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      });
      expect(noToken.status, noToken.text).to.equal(403);
      const wrongToken = await cluster.b.call('PATCH', '/api/v1/users/me', {
        cookie,
        body: { name: 'Hacked' },
        headers: { 'x-csrf-token': 'x'.repeat(40) },
      });
      expect(wrongToken.status, wrongToken.text).to.equal(403);
      const same = await cluster.b.call('PATCH', '/api/v1/users/me', {
        cookie,
        body: { name: 'Legit' },
        headers: { 'x-csrf-token': csrf, 'sec-fetch-site': 'same-origin' },
      });
      expect(same.status, same.text).to.equal(200);
      const bearer = (await login(email)).accessToken;
      expect(
        (
          await cluster.b.call('PATCH', '/api/v1/users/me', {
            token: bearer,
            body: { name: 'Api' },
            headers: { 'sec-fetch-site': 'cross-site' },
          })
        ).status,
      ).to.equal(200);
    });
  });

  describe('11. sign-in rate limit across instances', () => {
    it('answers 429 with RateLimit headers to the 11th attempt in the window, counted on both instances', async () => {
      const { email } = await account();
      const ip = '203.0.113.77';
      for (let i = 0; i < 10; i++) {
        const target = i % 2 === 0 ? cluster.a : cluster.b;
        const res = await target.call('POST', '/api/v1/auth/login', {
          body: { email, password: `wrong-${i}-password` },
          ip,
        });
        expect(res.status, `attempt ${i + 1}: ${res.text}`).to.equal(401);
      }
      const eleventh = await cluster.b.call('POST', '/api/v1/auth/login', { body: { email, password: PW }, ip });
      expect(eleventh.status, eleventh.text).to.equal(429);
      // One header entry per counter of the policy; the (account, IP) one refused.
      expect([eleventh.headers['ratelimit-policy']].flat().join(', ')).to.match(/"auth\.account-ip"; q=10; w=900;/);
      expect(eleventh.headers['retry-after']).to.be.a('string');
    });
  });

  describe('audit trail over HTTP', () => {
    it('is readable with audit:read only and records sign-ins without secrets', async () => {
      const { email, id } = await account();
      await login(email);
      const userToken = (await login(email)).accessToken;
      expectCode(await cluster.a.call('GET', '/api/v1/audit', { token: userToken }), 403, 'GANTRY_RBAC_FORBIDDEN');
      await cluster.admin('auditor@example.com', PW);
      const admin = (await login('auditor@example.com')).accessToken;
      const trail = await cluster.b.call('GET', `/api/v1/audit?actorId=${id}&limit=50`, { token: admin });
      expect(trail.status, trail.text).to.equal(200);
      const actions = trail.body.items.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`);
      expect(actions).to.include.members(['auth.signup:success', 'auth.email.verify:success', 'auth.login:success']);
      expect(trail.text).to.not.include(PW);
      expect(trail.text).to.not.match(/eyJ[A-Za-z0-9_-]{10,}\./);
    });
  });
});
