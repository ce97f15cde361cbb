// The behaviour sessions must have on every store, run against the memory store (sessions.test.ts)
// and the real Redis (sessions.redis.test.ts).
import { randomBytes } from 'node:crypto';
import { AuthJwtToken } from '@gantry/plugin-auth-jwt';
import { expect } from 'chai';
import { SessionsToken } from '../../src/index.js';
import {
  ADMIN_PREFIX,
  Browser,
  codeOf,
  CSRF_COOKIE,
  Kernels,
  SESSION_COOKIE,
  setCookies,
  sleep,
  type StoreTarget,
} from './harness.js';

const CROSS_SITE = { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' } as const;

/** Registers the shared suite for one store. */
export function sessionsSuite(target: StoreTarget): void {
  describe(`sessions-redis (${target.name} store)`, function () {
    this.timeout(20_000);
    const kernels = new Kernels(target);
    afterEach(() => kernels.stopAll());

    describe('cookie and sign-in', () => {
      it('sets a __Host- session cookie (Secure, HttpOnly, SameSite=Lax, Path=/, no Domain) and a CSRF cookie, and never returns or logs the cookie value', async () => {
        const { tk, lines } = await kernels.boot();
        const browser = new Browser();
        const res = await browser.send(tk, { method: 'POST', url: '/api/v1/login-test', payload: { userId: 'alice' } });
        expect(res.statusCode, res.body).to.equal(200);
        const cookies = setCookies(res);
        expect(cookies.map((c) => c.name)).to.deep.equal([SESSION_COOKIE, CSRF_COOKIE]);
        for (const c of cookies) {
          expect(c.attributes).to.have.members(['Path=/', 'Secure', 'HttpOnly', 'SameSite=Lax']);
          expect(c.attributes.some((a) => /^domain=/i.test(a))).to.equal(false);
        }
        const value = cookies[0]!.value;
        expect(value).to.match(/^[A-Za-z0-9_-]{43}$/);
        const body = JSON.parse(res.body) as {
          id: string;
          csrfToken: string;
          expiresAt: string;
          idleTimeoutSeconds: number;
        };
        expect(Object.keys(body).sort()).to.deep.equal(['csrfToken', 'expiresAt', 'id', 'idleTimeoutSeconds']);
        expect(body.id).to.not.equal(value);
        expect(body.idleTimeoutSeconds).to.equal(1800);
        expect(Date.parse(body.expiresAt) - Date.now()).to.be.within(43_190_000, 43_200_000);
        expect(res.body).to.not.include(value);
        // Use it, list it, revoke it: the value must appear in no log line along the way.
        await browser.send(tk, { method: 'GET', url: '/api/v1/whoami' });
        await browser.send(tk, { method: 'GET', url: '/api/v1/auth/sessions' });
        await browser.post(tk, '/api/v1/logout-test');
        expect(JSON.stringify(lines)).to.not.include(value);
      });

      it('honours a configured cookie name and SameSite=Strict', async () => {
        const { tk } = await kernels.boot({ cookieName: '__Host-app.sid', sameSite: 'strict' });
        const res = await new Browser().send(tk, {
          method: 'POST',
          url: '/api/v1/login-test',
          payload: { userId: 'alice' },
        });
        const session = setCookies(res).find((c) => c.name === '__Host-app.sid');
        expect(session?.attributes).to.include('SameSite=Strict');
      });

      it('appends its cookies to the Set-Cookie headers already set', async () => {
        const { tk } = await kernels.boot();
        const res = await tk.inject({
          method: 'POST',
          url: '/api/v1/login-test',
          payload: { userId: 'alice', theme: 'dark' },
        });
        expect(res.statusCode, res.body).to.equal(200);
        expect(setCookies(res).map((c) => c.name)).to.deep.equal(['theme', SESSION_COOKIE, CSRF_COOKIE]);
      });

      it('authenticates a cookie request: the principal is the user, via session, with the public session id', async () => {
        const { tk } = await kernels.boot();
        const browser = new Browser();
        const { id } = await browser.login(tk, 'alice');
        const res = await browser.send(tk, { method: 'GET', url: '/api/v1/whoami' });
        expect(res.statusCode, res.body).to.equal(200);
        expect(JSON.parse(res.body).principal).to.deep.equal({
          id: 'alice',
          kind: 'user',
          via: 'session',
          sessionId: id,
        });
      });

      it('leaves a request without the cookie to the HTTP layer (401 GANTRY_HTTP_UNAUTHENTICATED), and refuses an unknown or malformed cookie with its own 401', async () => {
        const { tk } = await kernels.boot();
        const none = await tk.inject({ method: 'GET', url: '/api/v1/whoami' });
        expect(none.statusCode).to.equal(401);
        expect(codeOf(none)).to.equal('GANTRY_HTTP_UNAUTHENTICATED');
        for (const value of [randomBytes(32).toString('base64url'), 'not-a-session']) {
          const res = await tk.inject({
            method: 'GET',
            url: '/api/v1/whoami',
            headers: { cookie: `${SESSION_COOKIE}=${value}` },
          });
          expect(res.statusCode).to.equal(401);
          expect(codeOf(res)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_INVALID');
          expect(setCookies(res).find((c) => c.name === SESSION_COOKIE)?.attributes).to.include('Max-Age=0');
        }
      });

      it('session id planted before login: a new id after it, and the planted session is dead', async () => {
        const { tk } = await kernels.boot();
        // The attacker signs in and plants the cookie in the victim's browser.
        const attacker = new Browser();
        const attackerSession = await attacker.login(tk, 'mallory');
        const victim = new Browser();
        victim.jar.set(SESSION_COOKIE, attacker.sessionCookie!);
        const victimSession = await victim.login(tk, 'alice');
        expect(victim.sessionCookie).to.be.a('string').and.not.equal(attacker.sessionCookie);
        expect(victimSession.id).to.not.equal(attackerSession.id);
        const planted = await attacker.send(tk, { method: 'GET', url: '/api/v1/whoami' });
        expect(planted.statusCode).to.equal(401);
        expect(codeOf(planted)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_INVALID');
        const mine = await victim.send(tk, { method: 'GET', url: '/api/v1/whoami' });
        expect(JSON.parse(mine.body).principal.id).to.equal('alice');
        // A made-up id, never issued, is replaced too.
        const fixated = new Browser();
        const madeUp = randomBytes(32).toString('base64url');
        fixated.jar.set(SESSION_COOKIE, madeUp);
        await fixated.login(tk, 'alice');
        expect(fixated.sessionCookie).to.not.equal(madeUp);
      });

      it('refuses to sign in from a cross-site page (login CSRF), and sets no cookie', async () => {
        const { tk } = await kernels.boot();
        const attempts = [
          { headers: CROSS_SITE, code: 'GANTRY_SESSIONS_REDIS_CROSS_SITE_REQUEST' },
          { headers: { origin: 'https://evil.example' }, code: 'GANTRY_SESSIONS_REDIS_ORIGIN_NOT_ALLOWED' },
        ];
        for (const { headers, code } of attempts) {
          const res = await tk.inject({
            method: 'POST',
            url: '/api/v1/login-test',
            payload: { userId: 'mallory' },
            headers,
          });
          expect(res.statusCode).to.equal(403);
          expect(codeOf(res)).to.equal(code);
          expect(res.headers['set-cookie']).to.equal(undefined);
        }
        const sameOrigin = await tk.inject({
          method: 'POST',
          url: '/api/v1/login-test',
          payload: { userId: 'alice' },
          headers: { 'sec-fetch-site': 'same-origin', origin: 'http://localhost:80' },
        });
        expect(sameOrigin.statusCode).to.equal(200);
      });

      it('logout clears both cookies and ends the session', async () => {
        const { tk } = await kernels.boot();
        const browser = new Browser();
        await browser.login(tk, 'alice');
        const cookie = browser.sessionCookie!;
        const res = await browser.post(tk, '/api/v1/logout-test');
        expect(res.statusCode, res.body).to.equal(204);
        const cleared = setCookies(res);
        expect(cleared.map((c) => c.name)).to.have.members([SESSION_COOKIE, CSRF_COOKIE]);
        for (const c of cleared) {
          expect(c.value).to.equal('');
          expect(c.attributes).to.include('Max-Age=0');
        }
        expect(browser.jar.size).to.equal(0);
        const replay = await tk.inject({
          method: 'GET',
          url: '/api/v1/whoami',
          headers: { cookie: `${SESSION_COOKIE}=${cookie}` },
        });
        expect(replay.statusCode).to.equal(401);
        expect(codeOf(replay)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_INVALID');
      });
    });

    describe('timeouts', () => {
      it('ends a session unused for idleTimeoutSeconds: 401 SESSION_EXPIRED (idle) and both cookies cleared', async () => {
        const { tk } = await kernels.boot({ idleTimeoutSeconds: 1, absoluteTimeoutSeconds: 60 });
        const browser = new Browser();
        const { idleTimeoutSeconds } = await browser.login(tk, 'alice');
        expect(idleTimeoutSeconds).to.equal(1);
        const cookie = browser.sessionCookie!;
        expect((await browser.send(tk, { method: 'GET', url: '/api/v1/whoami' })).statusCode).to.equal(200);
        await sleep(1_100);
        const res = await browser.send(tk, { method: 'GET', url: '/api/v1/whoami' });
        expect(res.statusCode).to.equal(401);
        expect(codeOf(res)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_EXPIRED');
        expect(JSON.parse(res.body).reason).to.equal('idle');
        expect(setCookies(res).map((c) => c.name)).to.have.members([SESSION_COOKIE, CSRF_COOKIE]);
        expect(browser.jar.size).to.equal(0);
        // The session is gone, not only refused once.
        const again = await tk.inject({
          method: 'GET',
          url: '/api/v1/whoami',
          headers: { cookie: `${SESSION_COOKIE}=${cookie}` },
        });
        expect(codeOf(again)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_INVALID');
      });

      it('slides the idle expiry on use, and still ends the session at absoluteTimeoutSeconds however active', async () => {
        const { tk } = await kernels.boot({ idleTimeoutSeconds: 1, absoluteTimeoutSeconds: 2 });
        const browser = new Browser();
        await browser.login(tk, 'alice');
        const started = Date.now();
        // 1.5 s after sign-in, past the 1 s idle timeout: alive only because every request slid it.
        for (const at of [500, 1_000, 1_500]) {
          await sleep(started + at - Date.now());
          const res = await browser.send(tk, { method: 'GET', url: '/api/v1/whoami' });
          expect(res.statusCode, `at ${at} ms: ${res.body}`).to.equal(200);
        }
        await sleep(started + 2_050 - Date.now());
        const res = await browser.send(tk, { method: 'GET', url: '/api/v1/whoami' });
        expect(res.statusCode).to.equal(401);
        expect(codeOf(res)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_EXPIRED');
        expect(JSON.parse(res.body).reason).to.equal('absolute');
      });
    });

    describe('CSRF', () => {
      it('refuses a cross-site cookie POST without a valid CSRF token (403), and with one too', async () => {
        const { tk } = await kernels.boot();
        const browser = new Browser();
        await browser.login(tk, 'alice');
        const bare = await browser.send(tk, { method: 'POST', url: '/api/v1/notes', headers: { ...CROSS_SITE } });
        expect(bare.statusCode).to.equal(403);
        expect(codeOf(bare)).to.equal('GANTRY_SESSIONS_REDIS_CROSS_SITE_REQUEST');
        const withToken = await browser.send(tk, {
          method: 'POST',
          url: '/api/v1/notes',
          headers: { ...CROSS_SITE, 'x-csrf-token': browser.csrfToken! },
        });
        expect(codeOf(withToken)).to.equal('GANTRY_SESSIONS_REDIS_CROSS_SITE_REQUEST');
        // Without Fetch Metadata (an older browser), the foreign Origin alone is refused, token or not.
        for (const headers of [
          { origin: 'https://evil.example' },
          { origin: 'null', 'x-csrf-token': browser.csrfToken! },
        ]) {
          const res = await browser.send(tk, { method: 'POST', url: '/api/v1/notes', headers });
          expect(res.statusCode).to.equal(403);
          expect(codeOf(res)).to.equal('GANTRY_SESSIONS_REDIS_ORIGIN_NOT_ALLOWED');
        }
      });

      it('refuses a same-origin cookie POST without the CSRF token, or with the token of another session', async () => {
        const { tk } = await kernels.boot();
        const alice = new Browser();
        await alice.login(tk, 'alice');
        const other = new Browser();
        await other.login(tk, 'alice');
        for (const token of [undefined, other.csrfToken!, 'f'.repeat(64)]) {
          const headers = {
            'sec-fetch-site': 'same-origin',
            origin: 'http://localhost:80',
            ...(token ? { 'x-csrf-token': token } : {}),
          };
          const res = await alice.send(tk, { method: 'POST', url: '/api/v1/notes', headers });
          expect(res.statusCode, String(token)).to.equal(403);
          expect(codeOf(res)).to.equal('GANTRY_SESSIONS_REDIS_CSRF_INVALID');
        }
        // The token in the header without the CSRF cookie is refused as well (double submit).
        const noCookie = await tk.inject({
          method: 'POST',
          url: '/api/v1/notes',
          headers: { cookie: `${SESSION_COOKIE}=${alice.sessionCookie}`, 'x-csrf-token': alice.csrfToken! },
        });
        expect(codeOf(noCookie)).to.equal('GANTRY_SESSIONS_REDIS_CSRF_INVALID');
        const ok = await alice.post(tk, '/api/v1/notes');
        expect(ok.statusCode, ok.body).to.equal(201);
        expect(JSON.parse(ok.body).by.via).to.equal('session');
        // A non-browser client sending neither Sec-Fetch-Site nor Origin only needs the token.
        const plain = await alice.send(tk, {
          method: 'POST',
          url: '/api/v1/session-only',
          headers: { 'x-csrf-token': alice.csrfToken! },
        });
        expect(plain.statusCode, plain.body).to.equal(201);
      });

      it('needs no CSRF token on safe methods', async () => {
        const { tk } = await kernels.boot();
        const browser = new Browser();
        await browser.login(tk, 'alice');
        const res = await browser.send(tk, { method: 'GET', url: '/api/v1/whoami', headers: { ...CROSS_SITE } });
        expect(res.statusCode).to.equal(200);
      });

      it('refuses same-site requests unless their origin is in allowedOrigins', async () => {
        const { tk } = await kernels.boot({ allowedOrigins: ['https://app.example.test'] });
        const browser = new Browser();
        await browser.login(tk, 'alice');
        const sibling = await browser.send(tk, {
          method: 'POST',
          url: '/api/v1/notes',
          headers: {
            'sec-fetch-site': 'same-site',
            origin: 'https://app.example.test',
            'x-csrf-token': browser.csrfToken!,
          },
        });
        expect(sibling.statusCode, sibling.body).to.equal(201);
        const stranger = await browser.send(tk, {
          method: 'POST',
          url: '/api/v1/notes',
          headers: {
            'sec-fetch-site': 'same-site',
            origin: 'https://blog.example.test',
            'x-csrf-token': browser.csrfToken!,
          },
        });
        expect(codeOf(stranger)).to.equal('GANTRY_SESSIONS_REDIS_CROSS_SITE_REQUEST');
      });

      it("GET /auth/csrf hands back the session's token, and issues a new CSRF cookie when it was lost", async () => {
        const { tk } = await kernels.boot();
        const browser = new Browser();
        const { csrfToken } = await browser.login(tk, 'alice');
        const same = await browser.send(tk, { method: 'GET', url: '/api/v1/auth/csrf' });
        expect(same.statusCode, same.body).to.equal(200);
        expect(JSON.parse(same.body).csrfToken).to.equal(csrfToken);
        browser.jar.delete(CSRF_COOKIE);
        const fresh = await browser.send(tk, { method: 'GET', url: '/api/v1/auth/csrf' });
        const token = JSON.parse(fresh.body).csrfToken as string;
        expect(token).to.not.equal(csrfToken);
        expect(browser.jar.get(CSRF_COOKIE)).to.equal(token);
        browser.csrfToken = token;
        expect((await browser.post(tk, '/api/v1/notes')).statusCode).to.equal(201);
      });

      it('GET /auth/csrf is for cookie sessions only', async () => {
        const { tk } = await kernels.boot();
        const pair = await tk.get(AuthJwtToken).issuePair('bob');
        const res = await tk.inject({
          method: 'GET',
          url: '/api/v1/auth/csrf',
          headers: { authorization: `Bearer ${pair.accessToken}` },
        });
        expect(res.statusCode).to.equal(401);
      });

      it('leaves bearer requests alone: no CSRF check, and the bearer principal wins over a session cookie', async () => {
        const { tk } = await kernels.boot();
        const browser = new Browser();
        await browser.login(tk, 'alice');
        const pair = await tk.get(AuthJwtToken).issuePair('bob');
        const res = await browser.send(tk, {
          method: 'POST',
          url: '/api/v1/notes',
          headers: { ...CROSS_SITE, authorization: `Bearer ${pair.accessToken}` },
        });
        expect(res.statusCode, res.body).to.equal(201);
        expect(JSON.parse(res.body).by).to.include({ id: 'bob', via: 'bearer' });
        // Without the cookie at all, same answer.
        const bare = await tk.inject({
          method: 'POST',
          url: '/api/v1/notes',
          headers: { ...CROSS_SITE, authorization: `Bearer ${pair.accessToken}` },
        });
        expect(bare.statusCode).to.equal(201);
      });
    });

    describe('session registry', () => {
      it("lists the caller's live sessions newest first, marking the current one, without cookie values", async () => {
        const { tk } = await kernels.boot();
        const first = new Browser();
        const a = await first.login(tk, 'alice');
        await sleep(5);
        const second = new Browser();
        const b = await second.login(tk, 'alice');
        await new Browser().login(tk, 'mallory');
        await sleep(5);
        await tk
          .get(SessionsToken)
          .register({ id: 'family-1', userId: 'alice', ttlSeconds: 600, ip: '203.0.113.9', userAgent: 'app/1.0' });
        const res = await first.send(tk, {
          method: 'GET',
          url: '/api/v1/auth/sessions',
          headers: { 'user-agent': 'test-browser' },
        });
        expect(res.statusCode, res.body).to.equal(200);
        const { sessions } = JSON.parse(res.body) as {
          sessions: { id: string; kind: string; current: boolean; userId: string; ip?: string; userAgent?: string }[];
        };
        expect(sessions.map((s) => s.id)).to.deep.equal(['family-1', b.id, a.id]);
        expect(sessions.map((s) => s.current)).to.deep.equal([false, false, true]);
        expect(sessions.map((s) => s.kind)).to.deep.equal(['token', 'cookie', 'cookie']);
        expect(sessions[0]).to.include({ ip: '203.0.113.9', userAgent: 'app/1.0', userId: 'alice' });
        expect(res.body).to.not.include(first.sessionCookie!).and.not.include(second.sessionCookie!);
        // A bearer caller of the token family sees that one as current.
        const pair = await tk.get(AuthJwtToken).issuePair('alice');
        const family = (
          JSON.parse(Buffer.from(pair.accessToken.split('.')[1]!, 'base64url').toString()) as { fid: string }
        ).fid;
        await tk.get(SessionsToken).register({ id: family, userId: 'alice', ttlSeconds: 600 });
        const viaBearer = await tk.inject({
          method: 'GET',
          url: '/api/v1/auth/sessions',
          headers: { authorization: `Bearer ${pair.accessToken}` },
        });
        const listed = (JSON.parse(viaBearer.body) as { sessions: { id: string; current: boolean }[] }).sessions;
        expect(listed.filter((s) => s.current).map((s) => s.id)).to.deep.equal([family]);
      });

      it("DELETE /auth/sessions/:id revokes one of the caller's sessions (204), 404 for another user's, 400 for a malformed id", async () => {
        const { tk, revoked } = await kernels.boot();
        const laptop = new Browser();
        await laptop.login(tk, 'alice');
        const phone = new Browser();
        const phoneSession = await phone.login(tk, 'alice');
        const mallory = await new Browser().login(tk, 'mallory');
        const res = await laptop.send(tk, {
          method: 'DELETE',
          url: `/api/v1/auth/sessions/${phoneSession.id}`,
          headers: { 'x-csrf-token': laptop.csrfToken! },
        });
        expect(res.statusCode, res.body).to.equal(204);
        expect(revoked.map((r) => r.id)).to.deep.equal([phoneSession.id]);
        expect(revoked[0]).to.include({ userId: 'alice', kind: 'cookie' });
        const gone = await phone.send(tk, { method: 'GET', url: '/api/v1/whoami' });
        expect(codeOf(gone)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_INVALID');
        const again = await laptop.send(tk, {
          method: 'DELETE',
          url: `/api/v1/auth/sessions/${phoneSession.id}`,
          headers: { 'x-csrf-token': laptop.csrfToken! },
        });
        expect(again.statusCode).to.equal(404);
        const foreign = await laptop.send(tk, {
          method: 'DELETE',
          url: `/api/v1/auth/sessions/${mallory.id}`,
          headers: { 'x-csrf-token': laptop.csrfToken! },
        });
        expect(foreign.statusCode).to.equal(404);
        expect(codeOf(foreign)).to.equal('GANTRY_SESSIONS_REDIS_SESSION_NOT_FOUND');
        const malformed = await laptop.send(tk, {
          method: 'DELETE',
          url: '/api/v1/auth/sessions/a%20b',
          headers: { 'x-csrf-token': laptop.csrfToken! },
        });
        expect(malformed.statusCode).to.equal(400);
        expect(revoked).to.have.length(1);
        // The cookie session is protected against CSRF here too.
        const forged = await laptop.send(tk, { method: 'DELETE', url: `/api/v1/auth/sessions/${mallory.id}` });
        expect(codeOf(forged)).to.equal('GANTRY_SESSIONS_REDIS_CSRF_INVALID');
      });

      it('revoking the session a request came with clears its cookies', async () => {
        const { tk } = await kernels.boot();
        const browser = new Browser();
        const { id } = await browser.login(tk, 'alice');
        const res = await browser.send(tk, {
          method: 'DELETE',
          url: `/api/v1/auth/sessions/${id}`,
          headers: { 'x-csrf-token': browser.csrfToken! },
        });
        expect(res.statusCode).to.equal(204);
        expect(browser.jar.size).to.equal(0);
      });

      it('DELETE /users/:id/sessions revokes every session of a user, for holders of sessions:revoke only', async () => {
        const { tk, revoked } = await kernels.boot();
        const laptop = new Browser();
        await laptop.login(tk, 'alice');
        const phone = new Browser();
        await phone.login(tk, 'alice');
        await tk.get(SessionsToken).register({ id: 'family-2', userId: 'alice', ttlSeconds: 600 });
        const bob = new Browser();
        await bob.login(tk, 'bob');
        const denied = await laptop.send(tk, {
          method: 'DELETE',
          url: '/api/v1/users/bob/sessions',
          headers: { 'x-csrf-token': laptop.csrfToken! },
        });
        expect(denied.statusCode).to.equal(403);
        expect((await bob.send(tk, { method: 'GET', url: '/api/v1/whoami' })).statusCode).to.equal(200);
        const admin = new Browser();
        await admin.login(tk, `${ADMIN_PREFIX}1`);
        const res = await admin.send(tk, {
          method: 'DELETE',
          url: '/api/v1/users/alice/sessions',
          headers: { 'x-csrf-token': admin.csrfToken! },
        });
        expect(res.statusCode, res.body).to.equal(200);
        expect(JSON.parse(res.body)).to.deep.equal({ revoked: 3 });
        expect(revoked.map((r) => r.kind).sort()).to.deep.equal(['cookie', 'cookie', 'token']);
        for (const b of [laptop, phone])
          expect((await b.send(tk, { method: 'GET', url: '/api/v1/whoami' })).statusCode).to.equal(401);
        expect(await tk.get(SessionsToken).list('alice')).to.deep.equal([]);
        expect((await bob.send(tk, { method: 'GET', url: '/api/v1/whoami' })).statusCode).to.equal(200);
        const none = await admin.send(tk, {
          method: 'DELETE',
          url: '/api/v1/users/alice/sessions',
          headers: { 'x-csrf-token': admin.csrfToken! },
        });
        expect(JSON.parse(none.body)).to.deep.equal({ revoked: 0 });
      });

      it('evicts the oldest sessions past maxSessionsPerUser, telling the listeners', async () => {
        const { tk, revoked } = await kernels.boot({ maxSessionsPerUser: 2 });
        const browsers = [new Browser(), new Browser(), new Browser()];
        const ids: string[] = [];
        for (const b of browsers) {
          ids.push((await b.login(tk, 'alice')).id);
          await sleep(5);
        }
        expect(codeOf(await browsers[0]!.send(tk, { method: 'GET', url: '/api/v1/whoami' }))).to.equal(
          'GANTRY_SESSIONS_REDIS_SESSION_INVALID',
        );
        for (const b of browsers.slice(1))
          expect((await b.send(tk, { method: 'GET', url: '/api/v1/whoami' })).statusCode).to.equal(200);
        expect((await tk.get(SessionsToken).list('alice')).map((s) => s.id)).to.deep.equal([ids[2], ids[1]]);
        expect(revoked.map((r) => r.id)).to.deep.equal([ids[0]]);
        // A token login counts too, and evicts the oldest cookie session.
        await tk.get(SessionsToken).register({ id: 'family-3', userId: 'alice', ttlSeconds: 600 });
        expect((await tk.get(SessionsToken).list('alice')).map((s) => s.id)).to.deep.equal(['family-3', ids[2]]);
      });

      it('register() lists a token login; touch() gives it its full lifetime again; revoke() tells the listeners', async () => {
        const { tk, revoked } = await kernels.boot();
        const sessions = tk.get(SessionsToken);
        await sessions.register({ id: 'family-4', userId: 'carol', ttlSeconds: 60 });
        const [before] = await sessions.list('carol');
        expect(before).to.include({ id: 'family-4', kind: 'token', current: false });
        await sleep(20);
        await sessions.touch('family-4');
        await sessions.touch('no-such-family');
        const [after] = await sessions.list('carol');
        expect(Date.parse(after!.lastSeenAt)).to.be.greaterThan(Date.parse(before!.lastSeenAt));
        expect(Date.parse(after!.expiresAt)).to.be.greaterThan(Date.parse(before!.expiresAt));
        expect(await sessions.revoke('someone-else', 'family-4')).to.equal(false);
        expect(await sessions.revoke('carol', 'family-4')).to.equal(true);
        expect(await sessions.revoke('carol', 'family-4')).to.equal(false);
        expect(revoked.map((r) => r.id)).to.deep.equal(['family-4']);
        expect(await sessions.list('carol')).to.deep.equal([]);
      });

      it('a token login ends ttlSeconds after its last touch', async () => {
        const { tk } = await kernels.boot();
        const sessions = tk.get(SessionsToken);
        await sessions.register({ id: 'family-5', userId: 'dave', ttlSeconds: 1 });
        await sleep(600);
        await sessions.touch('family-5');
        await sleep(600);
        expect((await sessions.list('dave')).map((s) => s.id)).to.deep.equal(['family-5']);
        await sleep(500);
        expect(await sessions.list('dave')).to.deep.equal([]);
      });

      it('refuses invalid arguments with GANTRY_SESSIONS_REDIS_ARGUMENT_INVALID', async () => {
        const { tk } = await kernels.boot();
        const sessions = tk.get(SessionsToken);
        for (const session of [
          { id: 'has space', userId: 'u', ttlSeconds: 60 },
          { id: 'ok', userId: '', ttlSeconds: 60 },
          { id: 'ok', userId: 'u', ttlSeconds: 0 },
        ]) {
          let caught: unknown;
          await sessions.register(session).catch((err: unknown) => (caught = err));
          expect((caught as { code?: string })?.code, JSON.stringify(session)).to.equal(
            'GANTRY_SESSIONS_REDIS_ARGUMENT_INVALID',
          );
        }
      });
    });
  });
}
