// A contract fake of Facebook Login and the Graph API's /me, named as such: no real Facebook can run
// here. It holds to Meta's documented contract where the app's side depends on it:
// - the login dialog (GET /dialog/oauth) needs a registered client_id and its exact redirect_uri,
//   response_type=code, a state (sent back untouched) and a PKCE S256 challenge; the signed-in
//   Facebook user is the browser's `c_user` cookie on the fake's origin;
// - the code exchange (POST or GET /oauth/access_token) needs the client secret, the same
//   redirect_uri, an unused code under 10 minutes old and the PKCE verifier; it answers JSON
//   { access_token, token_type, expires_in };
// - GET /me needs the access token and `appsecret_proof` = HMAC-SHA256(app secret, token) in hex, and
//   answers only the `fields` asked for; `email` only for an account with a confirmed address.
// Errors are Graph's shape: 400 { error: { message, type: 'OAuthException', code } }.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A Facebook user of the fake. */
export interface FacebookAccount {
  readonly name: string;
  /** Present only when confirmed: Graph returns no unconfirmed address. */
  readonly email?: string;
}

/** The running fake. */
export interface FacebookFake {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** Adds a user; `login` is also its Graph id. */
  account(login: string, account: FacebookAccount): void;
  /** How many /me calls carried a valid appsecret_proof, and how many were refused. */
  readonly graphCalls: { ok: number; refused: number };
  close(): Promise<void>;
}

interface PendingCode {
  readonly login: string;
  readonly redirectUri: string;
  readonly challenge: string;
  readonly expiresAt: number;
}

export async function startFacebookFake(app: {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}): Promise<FacebookFake> {
  const accounts = new Map<string, FacebookAccount>();
  const codes = new Map<string, PendingCode>();
  const tokens = new Map<string, string>();
  const graphCalls = { ok: 0, refused: 0 };

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const oauthError = (res: ServerResponse, message: string, code = 100): void =>
    json(res, 400, { error: { message, type: 'OAuthException', code } });

  const dialog = (url: URL, req: IncomingMessage, res: ServerResponse): void => {
    const q = url.searchParams;
    if (q.get('client_id') !== app.clientId) return oauthError(res, 'Invalid App ID', 101);
    if (q.get('redirect_uri') !== app.redirectUri)
      return oauthError(
        res,
        "URL blocked: this redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings",
        191,
      );
    if (q.get('response_type') !== 'code') return oauthError(res, 'response_type must be code');
    const state = q.get('state');
    if (!state) return oauthError(res, 'state is required');
    const challenge = q.get('code_challenge');
    if (!challenge || q.get('code_challenge_method') !== 'S256')
      return oauthError(res, 'code_challenge with code_challenge_method=S256 is required');
    const login = /(?:^|;\s*)c_user=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (!login || !accounts.has(login)) {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><title>Log in to Facebook</title><p>Log in to continue.</p>');
      return;
    }
    const code = randomBytes(24).toString('base64url');
    codes.set(code, { login, redirectUri: app.redirectUri, challenge, expiresAt: Date.now() + 600_000 });
    const back = new URL(app.redirectUri);
    back.searchParams.set('code', code);
    back.searchParams.set('state', state);
    res.writeHead(302, { location: `${back.href}#_=_` }).end();
  };

  const exchange = (params: URLSearchParams, res: ServerResponse): void => {
    if (params.get('client_id') !== app.clientId || params.get('client_secret') !== app.clientSecret)
      return oauthError(res, 'Error validating client secret.', 1);
    if (params.get('redirect_uri') !== app.redirectUri)
      return oauthError(
        res,
        'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request',
      );
    const code = params.get('code') ?? '';
    const pending = codes.get(code);
    codes.delete(code);
    if (!pending || pending.expiresAt < Date.now())
      return oauthError(res, 'This authorization code has expired or has been used.');
    const verifier = params.get('code_verifier') ?? '';
    if (createHash('sha256').update(verifier).digest('base64url') !== pending.challenge)
      return oauthError(res, 'Invalid code verifier');
    const token = `EAA${randomBytes(32).toString('base64url')}`;
    tokens.set(token, pending.login);
    json(res, 200, { access_token: token, token_type: 'bearer', expires_in: 5_183_944 });
  };

  const me = (url: URL, req: IncomingMessage, res: ServerResponse): void => {
    const q = url.searchParams;
    const token = q.get('access_token') ?? /^(?:Bearer|OAuth) (.+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    const login = tokens.get(token);
    if (!login) {
      graphCalls.refused++;
      return oauthError(res, 'Invalid OAuth access token data.', 190);
    }
    const expected = createHmac('sha256', app.clientSecret).update(token).digest();
    const proof = Buffer.from(q.get('appsecret_proof') ?? '', 'hex');
    if (proof.length !== expected.length || !timingSafeEqual(proof, expected)) {
      graphCalls.refused++;
      return oauthError(res, 'Invalid appsecret_proof provided in the API argument', 100);
    }
    graphCalls.ok++;
    const account = accounts.get(login)!;
    const all: Record<string, string | undefined> = { id: login, name: account.name, email: account.email };
    const fields = (q.get('fields') ?? 'id,name').split(',');
    json(res, 200, Object.fromEntries(fields.filter((f) => all[f] !== undefined).map((f) => [f, all[f]])));
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method === 'GET' && url.pathname === '/dialog/oauth') return dialog(url, req, res);
    if (url.pathname === '/oauth/access_token') {
      if (req.method === 'GET') return exchange(url.searchParams, res);
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c));
      req.on('end', () => exchange(new URLSearchParams(body), res));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/me') return me(url, req, res);
    json(res, 404, {
      error: { message: `Unknown path components: ${url.pathname}`, type: 'OAuthException', code: 2500 },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    account: (login, account) => void accounts.set(login, account),
    graphCalls,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
