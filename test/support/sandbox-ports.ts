// The sandbox on ports of its own: a sandbox already running on 3000/3001 must not matter to a test
// or a benchmark. The development OpenID provider's port, its redirect URI and the oauth plugin's
// issuer and callback base move together.
import { createServer } from 'node:net';

/** The development provider's client secret, as in sandbox/gantry.config.json. */
export const DEV_IDP_SECRET = 'dev-idp-client-secret-loopback-only';

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Environment putting the sandbox on free ports; `base` is its URL, `issuer` its development provider's. */
export async function sandboxPorts(): Promise<{ env: Record<string, string>; base: string; issuer: string }> {
  const port = await freePort();
  const idpPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const issuer = `http://127.0.0.1:${idpPort}`;
  return {
    base,
    issuer,
    env: {
      PORT: String(port),
      GANTRY_DEV_IDP__PORT: String(idpPort),
      GANTRY_DEV_IDP__REDIRECT_URI: `${base}/api/v1/auth/oauth/dev/callback`,
      GANTRY_OAUTH__CALLBACK_BASE_URL: base,
      GANTRY_OAUTH__PROVIDERS__OIDC: JSON.stringify({
        dev: { issuer, clientId: 'gantry-sandbox', clientSecret: DEV_IDP_SECRET },
      }),
    },
  };
}
