// A real OpenID Provider (oidc-provider, certified) on an ephemeral loopback port: clients for the
// app's OIDC and Google-style sign-ins, accounts with and without a verified email, PKCE required.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/** Claims of a test account (`sub` is its login name). */
export interface AccountClaims {
  readonly email?: string;
  readonly email_verified?: boolean;
  readonly name?: string;
}

/** One client registered at the provider. */
export interface TestClient {
  readonly client_id: string;
  readonly client_secret: string;
  readonly redirect_uris: readonly string[];
  readonly token_endpoint_auth_method: 'client_secret_basic' | 'client_secret_post';
}

/** A running provider. */
export interface IdentityProvider {
  /** `http://127.0.0.1:<port>` */
  readonly issuer: string;
  /** Adds or replaces an account (accounts are read on every sign-in). */
  account(login: string, claims: AccountClaims): void;
  /** Calls `listener` with the path of every request the provider receives. */
  onRequest(listener: (path: string) => void): void;
  close(): Promise<void>;
}

/** Starts oidc-provider with these clients (on `port`, default any free one); `devInteractions` renders the login and consent forms. */
export async function startIdentityProvider(clients: readonly TestClient[], port = 0): Promise<IdentityProvider> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const accounts = new Map<string, AccountClaims>();
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      ...c,
      redirect_uris: [...c.redirect_uris],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    jwks: { keys: [{ ...signingKey, kid: 'test-rs256', alg: 'RS256', use: 'sig' }] },
    cookies: { keys: ['oauth-test-cookie-key-0123456789'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // Every client, confidential ones included, must use PKCE: a sign-in without a verifier fails.
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    // passport-google-oauth20 reads the OpenID claims format from a URL ending in /userinfo.
    routes: { userinfo: '/userinfo' },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    findAccount: (_ctx: unknown, id: string) => {
      const claims = accounts.get(id);
      return claims ? { accountId: id, claims: () => ({ sub: id, ...claims }) } : undefined;
    },
  });
  const listeners: ((path: string) => void)[] = [];
  server.on('request', (req: { url?: string }) => {
    for (const listener of listeners) listener(new URL(req.url ?? '/', issuer).pathname);
  });
  server.on('request', provider.callback());
  return {
    issuer,
    account: (login, claims) => void accounts.set(login, claims),
    onRequest: (listener) => void listeners.push(listener),
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
