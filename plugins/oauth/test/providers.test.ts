// What does not need a provider to answer: the redirects to Google's and Facebook's real endpoints,
// ?mode=session without sessions-redis; and what happens when a provider is down or silent.
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { expect } from 'chai';
import { startIdentityProvider } from './support/identity-provider.js';
import { bootApp, callbackUrl, PUBLIC_ORIGIN, start, type App } from './support/stack.js';

const RANDOM = /^[A-Za-z0-9_-]{43}$/;

/** The client the "corp" OIDC provider of these tests registers. */
const corpClient = {
  client_id: 'gantry-corp',
  client_secret: 'corp-secret',
  redirect_uris: [callbackUrl('corp')],
  token_endpoint_auth_method: 'client_secret_basic',
} as const;

async function freePort(): Promise<number> {
  const server = createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('oauth: provider redirects and outages', function () {
  this.timeout(20_000);
  const apps: App[] = [];
  afterEach(async () => {
    while (apps.length) await apps.pop()!.stop();
  });
  const boot = async (oauth: Record<string, unknown>): Promise<App> => {
    const app = await bootApp({ oauth });
    apps.push(app);
    return app;
  };

  it('redirects to Google and Facebook themselves with state, an S256 challenge and the configured redirect URI', async () => {
    const app = await boot({
      providers: {
        google: { clientId: 'g-id.apps.googleusercontent.com', clientSecret: 'g-secret' },
        facebook: { clientId: '1234567890', clientSecret: 'f-secret' },
      },
    });
    const g = (await start(app.browser(), 'google')).location!;
    expect(g.origin + g.pathname).to.equal('https://accounts.google.com/o/oauth2/v2/auth');
    expect(Object.fromEntries(g.searchParams)).to.include({
      client_id: 'g-id.apps.googleusercontent.com',
      redirect_uri: callbackUrl('google'),
      response_type: 'code',
      scope: 'openid email profile',
      code_challenge_method: 'S256',
    });
    expect(g.searchParams.get('state')).to.match(RANDOM);
    expect(g.searchParams.get('code_challenge')).to.match(RANDOM);

    const f = (await start(app.browser(), 'facebook')).location!;
    expect(f.origin + f.pathname).to.equal('https://www.facebook.com/v21.0/dialog/oauth');
    expect(Object.fromEntries(f.searchParams)).to.include({
      client_id: '1234567890',
      redirect_uri: callbackUrl('facebook'),
      response_type: 'code',
      scope: 'email,public_profile',
      code_challenge_method: 'S256',
    });
    expect(f.searchParams.get('state')).to.match(RANDOM);
    expect(f.searchParams.get('code_challenge')).to.match(RANDOM);
    expect(g.searchParams.get('state')).to.not.equal(f.searchParams.get('state'));
    // The client secrets never appear in what the browser sees.
    expect(g.href + f.href).to.not.include('secret');
  });

  it('refuses ?mode=session up front (400) when sessions-redis is not enabled', async () => {
    const app = await boot({ providers: { google: { clientId: 'id', clientSecret: 'secret' } } });
    const page = await app.browser().get(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/google?mode=session`);
    expect(page.status, page.text).to.equal(400);
    expect(page.json().code).to.equal('GANTRY_OAUTH_MODE_UNAVAILABLE');
    const bad = await app.browser().get(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/google?mode=cookie`);
    expect(bad.status).to.equal(400);
  });

  it('boots while an OIDC issuer is down, answers 502 until it is up, then signs in without a restart', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const app = await boot({
      providers: { oidc: { corp: { issuer, clientId: 'gantry-corp', clientSecret: 'corp-secret' } } },
    });
    const ready = await app.api('GET', '/readyz');
    expect(ready.body.checks.oauth).to.deep.include({
      status: 'degraded',
      details: { providers: ['corp'], discovery: { corp: 'failed' } },
    });
    const down = await app.browser().get(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/corp`);
    expect(down.status, down.text).to.equal(502);
    expect(down.json().code).to.equal('GANTRY_OAUTH_PROVIDER_UNAVAILABLE');

    const idp = await startIdentityProvider([corpClient], port);
    try {
      const up = await start(app.browser(), 'corp');
      expect(up.location!.origin).to.equal(issuer);
      expect((await app.api('GET', '/readyz')).body.checks.oauth).to.deep.include({
        status: 'up',
        details: { providers: ['corp'], discovery: { corp: 'ready' } },
      });
    } finally {
      await idp.close();
    }
  });

  it('discover: "first-use" reads the issuer at the first sign-in, not at start (pending until then)', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const idp = await startIdentityProvider([corpClient], port);
    try {
      const seen: string[] = [];
      idp.onRequest((path) => seen.push(path));
      const app = await boot({
        providers: {
          oidc: { corp: { issuer, clientId: 'gantry-corp', clientSecret: 'corp-secret', discover: 'first-use' } },
        },
      });
      expect((await app.api('GET', '/readyz')).body.checks.oauth).to.deep.include({
        status: 'up',
        details: { providers: ['corp'], discovery: { corp: 'pending' } },
      });
      expect(seen, 'the issuer was read at start').to.deep.equal([]);
      const up = await start(app.browser(), 'corp');
      expect(up.location!.origin).to.equal(issuer);
      expect(seen).to.include('/.well-known/openid-configuration');
      expect((await app.api('GET', '/readyz')).body.checks.oauth).to.deep.include({
        status: 'up',
        details: { providers: ['corp'], discovery: { corp: 'ready' } },
      });
    } finally {
      await idp.close();
    }
  });

  it('answers 502 when the token endpoint does not answer within timeoutMs', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const tokenUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/token`;
      const app = await boot({
        timeoutMs: 1_000,
        providers: { google: { clientId: 'id', clientSecret: 'secret', tokenUrl } },
      });
      const browser = app.browser();
      const state = (await start(browser, 'google')).location!.searchParams.get('state')!;
      const t0 = Date.now();
      const page = await browser.get(`${callbackUrl('google')}?code=some-code&state=${state}`);
      expect(page.status, page.text).to.equal(502);
      expect(page.json().code).to.equal('GANTRY_OAUTH_EXCHANGE_FAILED');
      expect(Date.now() - t0).to.be.within(900, 5_000);
      expect(sockets.length, 'the token request reached the silent server').to.be.greaterThan(0);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
