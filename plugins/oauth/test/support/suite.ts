// The end-to-end behaviour of the oauth plugin against a real OpenID Provider (oidc-provider on
// loopback), driven over HTTP without a browser; run on SQLite (oauth.test.ts) and on the real
// PostgreSQL (oauth.pg.test.ts).
import { createHash, randomBytes } from 'node:crypto';
import { DatabaseToken } from '@gantry/plugin-database';
import { UserEntity, UsersToken } from '@gantry/plugin-users';
import { expect } from 'chai';
import { BINDING_COOKIE, OAuthStateEntity } from '../../src/index.js';
import { findLink } from '@gantry/testing';
import { startFacebookFake, type FacebookFake } from './facebook-fake.js';
import { startIdentityProvider, type IdentityProvider } from './identity-provider.js';
import { bootApp, callbackUrl, PASSWORD, PUBLIC_ORIGIN, signIn, start, throughProvider, type App } from './stack.js';

/** A database the suite runs against. */
export interface SuiteTarget {
  readonly driver: 'sqlite' | 'postgresql';
  /** Options of the `database` plugin for a new, empty database. */
  fresh(): Promise<Record<string, unknown>>;
}

const SECRETS = {
  corp: 'corp-client-secret-4f1c9a',
  google: 'google-client-secret-7b2e0d',
  facebook: 'facebook-client-secret-9d3a6c',
};
const RANDOM = /^[A-Za-z0-9_-]{43}$/;

let counter = 0;
/** A login and address no other test uses (the provider's accounts and the app's database are shared by a describe). */
function person(prefix: string): { login: string; email: string } {
  const login = `${prefix}-${++counter}-${randomBytes(3).toString('hex')}`;
  return { login, email: `${login}@example.com` };
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function oauthSuite(target: SuiteTarget): void {
  describe(`oauth: sign-in against a real OpenID Provider (${target.driver})`, function () {
    this.timeout(30_000);
    let idp: IdentityProvider;
    let facebook: FacebookFake;
    let app: App;

    before(async () => {
      idp = await startIdentityProvider([
        {
          client_id: 'gantry-corp',
          client_secret: SECRETS.corp,
          redirect_uris: [callbackUrl('corp')],
          token_endpoint_auth_method: 'client_secret_basic',
        },
        {
          client_id: 'gantry-google',
          client_secret: SECRETS.google,
          redirect_uris: [callbackUrl('google')],
          token_endpoint_auth_method: 'client_secret_post',
        },
      ]);
      facebook = await startFacebookFake({
        clientId: 'gantry-facebook',
        clientSecret: SECRETS.facebook,
        redirectUri: callbackUrl('facebook'),
      });
      app = await bootApp({
        database: await target.fresh(),
        sessions: true,
        oauth: {
          successRedirect: '/welcome',
          providers: {
            oidc: { corp: { issuer: idp.issuer, clientId: 'gantry-corp', clientSecret: SECRETS.corp } },
            // passport-google-oauth20 pointed at the local provider: its authorize, token and OpenID user info endpoints.
            google: {
              clientId: 'gantry-google',
              clientSecret: SECRETS.google,
              authorizationUrl: `${idp.issuer}/auth`,
              tokenUrl: `${idp.issuer}/token`,
              userInfoUrl: `${idp.issuer}/userinfo`,
            },
            // passport-facebook pointed at the contract fake of Facebook Login and Graph /me.
            facebook: {
              clientId: 'gantry-facebook',
              clientSecret: SECRETS.facebook,
              authorizationUrl: `${facebook.origin}/dialog/oauth`,
              tokenUrl: `${facebook.origin}/oauth/access_token`,
              profileUrl: `${facebook.origin}/me`,
            },
          },
        },
      });
    });

    after(async () => {
      await app?.stop();
      await idp?.close();
      await facebook?.close();
    });

    const stateRows = () => app.tk.get(DatabaseToken).em().find(OAuthStateEntity, {}, { disableIdentityMap: true });

    describe('OpenID Connect (openid-client)', () => {
      it('a first sign-in creates a verified account and returns tokens that work on GET /users/me', async () => {
        const { login, email } = person('ada');
        idp.account(login, { email, email_verified: true, name: 'Ada Lovelace' });
        const browser = app.browser();
        const page = await signIn(browser, 'corp', login);
        expect(page.status, page.text).to.equal(200);
        const tokens = page.json();
        expect(tokens).to.include.keys('accessToken', 'refreshToken', 'expiresIn');
        expect(tokens.tokenType).to.equal('Bearer');
        // The binding cookie is spent with the state.
        expect(browser.cookie(PUBLIC_ORIGIN, BINDING_COOKIE)).to.equal(undefined);

        const me = await app.api('GET', '/api/v1/users/me', { token: tokens.accessToken });
        expect(me.status, me.text).to.equal(200);
        expect(me.body).to.include({ email, name: 'Ada Lovelace', emailVerified: true, status: 'active' });
        const account = await app.tk.get(UsersToken).findByEmail(email);
        expect(account?.hasPassword).to.equal(false);

        const [entry] = await app.oauthAudit();
        expect(entry).to.include({ action: 'auth.oauth.login', outcome: 'success' });
        expect(entry!.object).to.deep.equal({ type: 'user', id: me.body.id });
        expect(entry!.details).to.deep.equal({ provider: 'corp', mode: 'token', account: 'created' });
      });

      it('a second sign-in with the same address links the same account', async () => {
        const { login, email } = person('grace');
        idp.account(login, { email, email_verified: true, name: 'Grace Hopper' });
        const first = await signIn(app.browser(), 'corp', login);
        expect(first.status, first.text).to.equal(200);
        const second = await signIn(app.browser(), 'corp', login);
        expect(second.status, second.text).to.equal(200);
        const a = await app.api('GET', '/api/v1/users/me', { token: first.json().accessToken });
        const b = await app.api('GET', '/api/v1/users/me', { token: second.json().accessToken });
        expect(b.body.id).to.equal(a.body.id);
        expect((await app.oauthAudit())[0]!.details).to.include({ account: 'linked' });
      });

      it('links an existing verified password account, which keeps its password', async () => {
        const { login, email } = person('linus');
        const { user } = await app.tk
          .get(UsersToken)
          .ensureAccount({ email, password: PASSWORD, name: 'Linus', roles: ['user'] });
        idp.account(login, { email: email.toUpperCase(), email_verified: true, name: 'Linus T' });
        const page = await signIn(app.browser(), 'corp', login);
        expect(page.status, page.text).to.equal(200);
        const me = await app.api('GET', '/api/v1/users/me', { token: page.json().accessToken });
        expect(me.body.id).to.equal(user.id);
        const password = await app.api('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
        expect(password.status, password.text).to.equal(200);
      });

      it('sends state, nonce and an S256 PKCE challenge, with the redirect URI from callbackBaseUrl (never the Host header)', async () => {
        const browser = app.browser();
        const page = await browser.get(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/corp`, {
          'x-forwarded-host': 'evil.example',
          'x-forwarded-proto': 'http',
        });
        expect(page.status, page.text).to.equal(302);
        const url = page.location!;
        expect(url.origin + url.pathname).to.equal(`${idp.issuer}/auth`);
        const q = url.searchParams;
        expect(q.get('response_type')).to.equal('code');
        expect(q.get('client_id')).to.equal('gantry-corp');
        expect(q.get('redirect_uri')).to.equal(callbackUrl('corp'));
        expect(q.get('scope')).to.equal('openid email profile');
        expect(q.get('state')).to.match(RANDOM);
        expect(q.get('nonce')).to.be.a('string').with.length.of.at.least(32);
        expect(q.get('code_challenge_method')).to.equal('S256');
        expect(q.get('code_challenge')).to.match(RANDOM);

        const cookie = page.setCookies.find((c) => c.startsWith(`${BINDING_COOKIE}=`));
        expect(cookie).to.match(
          new RegExp(`^${BINDING_COOKIE}=[A-Za-z0-9_-]{43}; Max-Age=600; Path=/; Secure; HttpOnly; SameSite=Lax$`),
        );
        // Only hashes are stored, bound to this browser's cookie; the challenge is the verifier's SHA-256.
        const binding = browser.cookie(PUBLIC_ORIGIN, BINDING_COOKIE)!;
        const row = (await stateRows()).find((r) => r.stateHash === sha256(q.get('state')!));
        expect(row, 'a row for this state').to.not.equal(undefined);
        expect(row!.bindingHash).to.equal(sha256(binding));
        expect(row!).to.include({ provider: 'corp', mode: 'token', nonce: q.get('nonce') });
        expect(createHash('sha256').update(row!.codeVerifier).digest('base64url')).to.equal(q.get('code_challenge'));
      });

      it('the provider itself refuses an authorization request without PKCE (so the sign-ins above prove the verifier is sent)', async () => {
        const url = new URL(`${idp.issuer}/auth`);
        url.search = new URLSearchParams({
          client_id: 'gantry-corp',
          response_type: 'code',
          scope: 'openid email',
          redirect_uri: callbackUrl('corp'),
          state: 's',
          nonce: 'n',
        }).toString();
        const page = await app.browser().get(url);
        expect(page.status).to.be.oneOf([302, 303]);
        expect(page.location!.searchParams.get('error')).to.equal('invalid_request');
        expect(page.location!.searchParams.get('error_description')).to.match(/PKCE/);
      });

      it('exchanges the code with the stored verifier: another verifier fails the exchange (502)', async () => {
        const { login, email } = person('pkce');
        idp.account(login, { email, email_verified: true });
        const browser = app.browser();
        const started = await start(browser, 'corp');
        const callback = await throughProvider(browser, started.location!, login);
        const stateHash = sha256(callback.searchParams.get('state')!);
        await app.tk
          .get(DatabaseToken)
          .em()
          .nativeUpdate(OAuthStateEntity, { stateHash }, { codeVerifier: randomBytes(32).toString('base64url') });
        const page = await browser.get(callback);
        expect(page.status, page.text).to.equal(502);
        expect(page.json().code).to.equal('GANTRY_OAUTH_EXCHANGE_FAILED');
        expect(await app.tk.get(UsersToken).findByEmail(email)).to.equal(undefined);
        expect((await app.oauthAudit())[0]).to.deep.include({
          outcome: 'failure',
          details: { provider: 'corp', reason: 'exchange-failed' },
        });
      });

      it('refuses a tampered state (400); the real callback then works once, and its replay is refused', async () => {
        const { login, email } = person('replay');
        idp.account(login, { email, email_verified: true });
        const browser = app.browser();
        const callback = await throughProvider(browser, (await start(browser, 'corp')).location!, login);

        const tampered = new URL(callback);
        tampered.searchParams.set('state', randomBytes(32).toString('base64url'));
        const refused = await browser.get(tampered);
        expect(refused.status, refused.text).to.equal(400);
        expect(refused.json().code).to.equal('GANTRY_OAUTH_STATE_INVALID');

        const binding = browser.cookie(PUBLIC_ORIGIN, BINDING_COOKIE)!;
        const ok = await browser.get(callback);
        expect(ok.status, ok.text).to.equal(200);
        // Replayed with the same binding (as a browser that lost the clearing would): the state is spent.
        browser.setCookie(PUBLIC_ORIGIN, BINDING_COOKIE, binding);
        const replay = await browser.get(callback);
        expect(replay.status, replay.text).to.equal(400);
        expect(replay.json().code).to.equal('GANTRY_OAUTH_STATE_INVALID');
        expect((await app.oauthAudit())[0]).to.deep.include({
          outcome: 'failure',
          details: { provider: 'corp', reason: 'state-invalid' },
        });
      });

      it('refuses a callback without the binding cookie (400) and leaves the sign-in to its own browser', async () => {
        const { login, email } = person('nocookie');
        idp.account(login, { email, email_verified: true });
        const browser = app.browser();
        const callback = await throughProvider(browser, (await start(browser, 'corp')).location!, login);
        const binding = browser.cookie(PUBLIC_ORIGIN, BINDING_COOKIE)!;
        browser.deleteCookie(PUBLIC_ORIGIN, BINDING_COOKIE);
        const refused = await browser.get(callback);
        expect(refused.status, refused.text).to.equal(400);
        expect(refused.json().code).to.equal('GANTRY_OAUTH_STATE_INVALID');
        browser.setCookie(PUBLIC_ORIGIN, BINDING_COOKIE, binding);
        expect((await browser.get(callback)).status).to.equal(200);
      });

      it("refuses a callback opened in another browser (login CSRF: the attacker's code in the victim's browser)", async () => {
        const mallory = person('mallory');
        idp.account(mallory.login, { email: mallory.email, email_verified: true });
        const attacker = app.browser();
        const attackerCallback = await throughProvider(
          attacker,
          (await start(attacker, 'corp')).location!,
          mallory.login,
        );
        const victim = app.browser();
        await start(victim, 'corp');
        const page = await victim.get(attackerCallback);
        expect(page.status, page.text).to.equal(400);
        expect(page.json().code).to.equal('GANTRY_OAUTH_STATE_INVALID');
        expect(await app.tk.get(UsersToken).findByEmail(mallory.email)).to.equal(undefined);
      });

      it('refuses an expired state (400)', async () => {
        const { login, email } = person('late');
        idp.account(login, { email, email_verified: true });
        const browser = app.browser();
        const callback = await throughProvider(browser, (await start(browser, 'corp')).location!, login);
        await app.tk
          .get(DatabaseToken)
          .em()
          .nativeUpdate(
            OAuthStateEntity,
            { stateHash: sha256(callback.searchParams.get('state')!) },
            { expiresAt: new Date(Date.now() - 1000) },
          );
        const page = await browser.get(callback);
        expect(page.status, page.text).to.equal(400);
        expect(page.json().code).to.equal('GANTRY_OAUTH_STATE_INVALID');
        expect((await stateRows()).some((r) => r.stateHash === sha256(callback.searchParams.get('state')!))).to.equal(
          false,
        );
      });

      it('refuses a callback with a state but no code (400)', async () => {
        const browser = app.browser();
        const state = (await start(browser, 'corp')).location!.searchParams.get('state')!;
        const page = await browser.get(`${callbackUrl('corp')}?state=${state}`);
        expect(page.status, page.text).to.equal(400);
        expect(page.json().code).to.equal('GANTRY_OAUTH_CALLBACK_INVALID');
      });

      it('answers 401 when the user cancels at the provider, and spends the state', async () => {
        const browser = app.browser();
        const started = await start(browser, 'corp');
        const state = started.location!.searchParams.get('state')!;
        let page = await browser.get(started.location!);
        while (page.status === 302 || page.status === 303) page = await browser.get(page.location!);
        const cancelled = await throughProvider(browser, findLink(page, /\/abort$/), 'unused');
        expect(cancelled.searchParams.get('error')).to.equal('access_denied');
        const denied = await browser.get(cancelled);
        expect(denied.status, denied.text).to.equal(401);
        expect(denied.json()).to.include({ code: 'GANTRY_OAUTH_DENIED', providerError: 'access_denied' });
        expect((await stateRows()).some((r) => r.stateHash === sha256(state))).to.equal(false);
        expect((await app.oauthAudit())[0]).to.deep.include({
          outcome: 'failure',
          details: { provider: 'corp', reason: 'denied' },
        });
      });

      it('refuses an address the provider did not verify (403) and creates no account', async () => {
        const { login, email } = person('unverified');
        idp.account(login, { email, email_verified: false });
        const page = await signIn(app.browser(), 'corp', login);
        expect(page.status, page.text).to.equal(403);
        expect(page.json().code).to.equal('GANTRY_OAUTH_EMAIL_UNVERIFIED');
        expect(await app.tk.get(UsersToken).findByEmail(email)).to.equal(undefined);
      });

      it('refuses a sign-in without any email address (403)', async () => {
        const { login } = person('noemail');
        idp.account(login, { name: 'No Mail' });
        const page = await signIn(app.browser(), 'corp', login);
        expect(page.status, page.text).to.equal(403);
        expect(page.json().code).to.equal('GANTRY_OAUTH_EMAIL_UNVERIFIED');
      });

      it('does not link an existing local account whose address is unverified (409)', async () => {
        const { login, email } = person('squatter');
        const signup = await app.api('POST', '/api/v1/auth/signup', {
          body: { email, password: PASSWORD, name: 'Squatter' },
        });
        expect(signup.status, signup.text).to.equal(201);
        idp.account(login, { email, email_verified: true });
        const page = await signIn(app.browser(), 'corp', login);
        expect(page.status, page.text).to.equal(409);
        expect(page.json().code).to.equal('GANTRY_OAUTH_LINK_REFUSED');
        expect((await app.tk.get(UsersToken).findByEmail(email))?.emailVerified).to.equal(false);
        expect((await app.oauthAudit())[0]).to.deep.include({
          outcome: 'failure',
          details: { provider: 'corp', reason: 'link-refused' },
        });
      });

      it('refuses a disabled account (403)', async () => {
        const { login, email } = person('disabled');
        const { user } = await app.tk
          .get(UsersToken)
          .ensureAccount({ email, password: PASSWORD, name: 'Off', roles: ['user'] });
        await app.tk.get(DatabaseToken).em().nativeUpdate(UserEntity, { id: user.id }, { status: 'disabled' });
        idp.account(login, { email, email_verified: true });
        const page = await signIn(app.browser(), 'corp', login);
        expect(page.status, page.text).to.equal(403);
        expect(page.json().code).to.equal('GANTRY_OAUTH_ACCOUNT_DISABLED');
      });

      it('?mode=session opens a cookie session and redirects (303) to successRedirect', async () => {
        const { login, email } = person('browser');
        idp.account(login, { email, email_verified: true });
        const browser = app.browser();
        const page = await signIn(browser, 'corp', login, '?mode=session');
        expect(page.status, page.text).to.equal(303);
        expect(page.location!.href).to.equal(`${PUBLIC_ORIGIN}/welcome`);
        expect(browser.cookie(PUBLIC_ORIGIN, '__Host-gantry.sid')).to.be.a('string');
        const me = await browser.get(`${PUBLIC_ORIGIN}/api/v1/users/me`);
        expect(me.status, me.text).to.equal(200);
        expect(me.json().email).to.equal(email);
        expect((await app.oauthAudit())[0]!.details).to.include({ mode: 'session' });
      });

      it('lets two sign-ins started in one browser both finish (the binding is kept across starts)', async () => {
        const a = person('tab-a');
        const b = person('tab-b');
        idp.account(a.login, { email: a.email, email_verified: true });
        idp.account(b.login, { email: b.email, email_verified: true });
        const browser = app.browser();
        const first = await start(browser, 'corp');
        const second = await start(browser, 'corp');
        // Separate provider sessions, as two identities would have.
        const callbackA = await throughProvider(app.browser(), first.location!, a.login);
        const callbackB = await throughProvider(app.browser(), second.location!, b.login);
        const binding = browser.cookie(PUBLIC_ORIGIN, BINDING_COOKIE)!;
        expect((await browser.get(callbackB)).status).to.equal(200);
        browser.setCookie(PUBLIC_ORIGIN, BINDING_COOKIE, binding);
        expect((await browser.get(callbackA)).status).to.equal(200);
      });

      it('never writes codes, states or tokens to the audit trail, nor secrets to /readyz', async () => {
        const { login, email } = person('quiet');
        idp.account(login, { email, email_verified: true });
        const browser = app.browser();
        const callback = await throughProvider(browser, (await start(browser, 'corp')).location!, login);
        const page = await browser.get(callback);
        expect(page.status).to.equal(200);
        const trail = JSON.stringify(await app.oauthAudit());
        for (const value of [
          callback.searchParams.get('code')!,
          callback.searchParams.get('state')!,
          page.json().accessToken,
          page.json().refreshToken,
        ]) {
          expect(trail).to.not.include(value);
        }
        const ready = await app.api('GET', '/readyz');
        expect(ready.text).to.include('"oauth"');
        for (const secret of Object.values(SECRETS)) expect(ready.text).to.not.include(secret);
      });
    });

    describe("Google (passport-google-oauth20 against the provider's endpoints)", () => {
      it('redirects with client id, state, S256 challenge and the configured redirect URI', async () => {
        const page = await start(app.browser(), 'google');
        const url = page.location!;
        expect(url.origin + url.pathname).to.equal(`${idp.issuer}/auth`);
        const q = url.searchParams;
        expect(q.get('client_id')).to.equal('gantry-google');
        expect(q.get('redirect_uri')).to.equal(callbackUrl('google'));
        expect(q.get('response_type')).to.equal('code');
        expect(q.get('scope')).to.equal('openid email profile');
        expect(q.get('state')).to.match(RANDOM);
        expect(q.get('code_challenge')).to.match(RANDOM);
        expect(q.get('code_challenge_method')).to.equal('S256');
        expect(page.setCookies.some((c) => c.startsWith(`${BINDING_COOKIE}=`))).to.equal(true);
      });

      it('signs in end to end (code exchange with the verifier, OpenID user info) and links by verified email', async () => {
        const { login, email } = person('gmail');
        idp.account(login, { email, email_verified: true, name: 'Gee Mail' });
        const browser = app.browser();
        const callback = await throughProvider(browser, (await start(browser, 'google')).location!, login);
        const page = await browser.get(callback);
        expect(page.status, page.text).to.equal(200);
        const me = await app.api('GET', '/api/v1/users/me', { token: page.json().accessToken });
        expect(me.body).to.include({ email, name: 'Gee Mail', emailVerified: true });
        expect((await app.oauthAudit())[0]!.details).to.deep.equal({
          provider: 'google',
          mode: 'token',
          account: 'created',
        });
        const replay = await browser.get(callback);
        expect(replay.status).to.equal(400);
        expect(replay.json().code).to.equal('GANTRY_OAUTH_STATE_INVALID');
      });

      it('refuses an unverified Google address (403)', async () => {
        const { login, email } = person('gunverified');
        idp.account(login, { email, email_verified: false });
        const page = await signIn(app.browser(), 'google', login);
        expect(page.status, page.text).to.equal(403);
        expect(page.json().code).to.equal('GANTRY_OAUTH_EMAIL_UNVERIFIED');
      });

      it('refuses a tampered state and a missing cookie (400)', async () => {
        const { login, email } = person('gtamper');
        idp.account(login, { email, email_verified: true });
        const browser = app.browser();
        const callback = await throughProvider(browser, (await start(browser, 'google')).location!, login);
        const tampered = new URL(callback);
        tampered.searchParams.set('state', randomBytes(32).toString('base64url'));
        expect((await browser.get(tampered)).status).to.equal(400);
        expect((await app.browser().get(callback)).status).to.equal(400);
        expect((await browser.get(callback)).status).to.equal(200);
      });
    });

    describe('Facebook (passport-facebook, against a contract fake of Facebook Login and Graph /me)', () => {
      /** A Facebook sign-in of `login` (signed in at the fake) through the app, to the callback's answer. */
      async function facebookSignIn(login: string): Promise<Awaited<ReturnType<typeof start>>> {
        const browser = app.browser();
        const started = await start(browser, 'facebook');
        browser.setCookie(facebook.origin, 'c_user', login);
        const dialog = await browser.get(started.location!);
        expect(dialog.status, dialog.text).to.equal(302);
        expect(dialog.location!.origin + dialog.location!.pathname).to.equal(callbackUrl('facebook'));
        return browser.get(dialog.location!);
      }

      it('signs in end to end (PKCE, code exchange with the secret, Graph /me with appsecret_proof) and creates a verified account', async () => {
        const { login, email } = person('fb');
        facebook.account(login, { name: 'Fay Book', email });
        const before = facebook.graphCalls.ok;
        const page = await facebookSignIn(login);
        expect(page.status, page.text).to.equal(200);
        expect(facebook.graphCalls.ok).to.equal(before + 1);
        const me = await app.api('GET', '/api/v1/users/me', { token: page.json().accessToken });
        expect(me.body).to.include({ email, name: 'Fay Book', emailVerified: true });
        const again = await facebookSignIn(login);
        expect((await app.api('GET', '/api/v1/users/me', { token: again.json().accessToken })).body.id).to.equal(
          me.body.id,
        );
      });

      it('refuses a Facebook user whose address Graph does not return (unconfirmed): 403 GANTRY_OAUTH_EMAIL_UNVERIFIED', async () => {
        const { login } = person('fb-noemail');
        facebook.account(login, { name: 'No Mail' });
        const page = await facebookSignIn(login);
        expect(page.status, page.text).to.equal(403);
        expect(page.json().code).to.equal('GANTRY_OAUTH_EMAIL_UNVERIFIED');
      });

      it('redirects with client id, state, S256 challenge and the configured redirect URI', async () => {
        const page = await start(app.browser(), 'facebook');
        const q = page.location!.searchParams;
        expect(page.location!.origin + page.location!.pathname).to.equal(`${facebook.origin}/dialog/oauth`);
        expect(q.get('client_id')).to.equal('gantry-facebook');
        expect(q.get('redirect_uri')).to.equal(callbackUrl('facebook'));
        expect(q.get('scope')).to.equal('email,public_profile');
        expect(q.get('state')).to.match(RANDOM);
        expect(q.get('code_challenge')).to.match(RANDOM);
        expect(q.get('code_challenge_method')).to.equal('S256');
      });

      it('checks the state before the exchange, and answers 502 when the token endpoint refuses the code', async () => {
        const browser = app.browser();
        const state = (await start(browser, 'facebook')).location!.searchParams.get('state')!;
        const forged = await browser.get(
          `${callbackUrl('facebook')}?code=forged&state=${randomBytes(32).toString('base64url')}`,
        );
        expect(forged.status, forged.text).to.equal(400);
        const refused = await browser.get(
          `${callbackUrl('facebook')}?code=not-a-code-the-provider-issued&state=${state}`,
        );
        expect(refused.status, refused.text).to.equal(502);
        expect(refused.json().code).to.equal('GANTRY_OAUTH_EXCHANGE_FAILED');
        const replay = await browser.get(`${callbackUrl('facebook')}?code=again&state=${state}`);
        expect(replay.status).to.equal(400);
      });
    });

    it('the start route takes only ?mode: a code, state or error there is a 400 problem, never an exchange', async () => {
      const browser = app.browser();
      const audited = (await app.oauthAudit()).length;
      for (const query of [
        '?code=x&state=y',
        '?state=y',
        '?error=access_denied',
        '?mode=token&code=x',
        '?mode=cookie',
      ]) {
        const page = await browser.get(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/corp${query}`);
        expect(page.status, query).to.equal(400);
        expect(page.json().code, query).to.equal('GANTRY_HTTP_VALIDATION');
      }
      expect((await app.oauthAudit()).length).to.equal(audited);
    });

    it('answers 404 for a provider that is not configured, on both routes', async () => {
      const browser = app.browser();
      for (const route of ['/api/v1/auth/oauth/github', '/api/v1/auth/oauth/github/callback?code=x&state=y']) {
        const page = await browser.get(`${PUBLIC_ORIGIN}${route}`);
        expect(page.status, route).to.equal(404);
        expect(page.json().code).to.equal('GANTRY_OAUTH_UNKNOWN_PROVIDER');
      }
    });
  });
}
