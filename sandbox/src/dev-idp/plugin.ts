import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { definePlugin } from '@gantry/core';
import { z } from 'zod';
import { SandboxErrors } from '../errors.js';

/** The only host the development provider listens on: it signs anyone in, so it is never reachable from another machine. */
const HOST = '127.0.0.1';
/** Every account of the development provider has an address in this reserved domain, so it can never be linked to a real account. */
export const DEV_EMAIL_DOMAIN = 'dev-idp.localhost';
const LOGIN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

const loopbackUrl = z
  .string()
  .refine(
    (v) => URL.canParse(v) && ['localhost', '127.0.0.1', '[::1]'].includes(new URL(v).hostname),
    'must be an http(s) URL on localhost, 127.0.0.1 or [::1]',
  );

/**
 * A development OpenID provider (oidc-provider with its development login form) on 127.0.0.1, so the
 * `oauth` plugin's sign-in runs end to end on `npm start` with no account at Google or Facebook. Any
 * login name signs in, as `<login>@dev-idp.localhost` (verified). It refuses to run outside the
 * embedded profile. It listens at start but imports oidc-provider (and builds its keys) on its first
 * request: a sandbox nobody signs in to through it does not carry it (the oauth plugin reads this
 * issuer on first use, `discover: "first-use"` in the sandbox's config).
 */
export const plugin = definePlugin({
  name: 'dev-idp',
  version: '0.1.0',
  kernel: '^0.1.0',
  description: 'Sandbox: a development OpenID provider on loopback for the oauth plugin (embedded profile only)',
  config: z
    .object({
      // Coerced: the sandbox's config file writes it as "${DEV_IDP_PORT:-3001}", an environment reference.
      port: z.coerce
        .number()
        .int()
        .min(1)
        .max(65_535)
        .default(3001)
        .describe('Port on 127.0.0.1; the issuer is http://127.0.0.1:<port>'),
      clientId: z.string().min(1).max(128).default('gantry-sandbox').describe('Client id the oauth plugin uses'),
      clientSecret: z
        .string()
        .min(16)
        .max(256)
        .describe('Client secret the oauth plugin uses (required; meaningful on loopback only)'),
      redirectUri: loopbackUrl.describe(
        "The oauth plugin's callback for this provider, e.g. http://localhost:3000/api/v1/auth/oauth/dev/callback (required)",
      ),
    })
    .strict(),
  register(ctx) {
    if (ctx.profile !== 'embedded') {
      throw SandboxErrors.DEV_IDP_PROFILE(
        `the development OpenID provider signs anyone in: it runs in the embedded profile only, not in "${ctx.profile}"`,
      );
    }
    const { port, clientId, clientSecret, redirectUri } = ctx.config;
    const issuer = `http://${HOST}:${port}`;
    let server: Server | undefined;

    ctx.lifecycle.hook({
      name: 'listen',
      // With the app's own listener: a command (db:migrate, mail:last) run beside a serving sandbox must not take the port.
      phase: 'serve',
      start: async () => {
        let handler: Promise<(req: IncomingMessage, res: ServerResponse) => void> | undefined;
        const load = async (): Promise<(req: IncomingMessage, res: ServerResponse) => void> => {
          const { default: Provider } = await import('oidc-provider');
          const provider = new Provider(issuer, {
            clients: [
              {
                client_id: clientId,
                client_secret: clientSecret,
                redirect_uris: [redirectUri],
                grant_types: ['authorization_code'],
                response_types: ['code'],
                id_token_signed_response_alg: 'ES256',
              },
            ],
            // Keys live as long as the process: a restart signs everyone out of the provider, nothing more.
            // P-256 rather than RSA: generated in well under a millisecond, so it costs the sandbox's start nothing.
            jwks: {
              keys: [
                {
                  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
                  kid: 'dev-es256',
                  alg: 'ES256',
                  use: 'sig',
                },
              ],
            },
            cookies: { keys: [randomBytes(32).toString('base64url')] },
            claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
            pkce: { required: () => true },
            features: { devInteractions: { enabled: true } },
            ttl: {
              Interaction: 600,
              Session: 3_600,
              Grant: 3_600,
              AccessToken: 600,
              IdToken: 600,
              AuthorizationCode: 60,
            },
            findAccount: (_ctx, id) => {
              const login = id.toLowerCase();
              if (!LOGIN.test(login)) return undefined;
              return {
                accountId: login,
                claims: () => ({
                  sub: login,
                  email: `${login}@${DEV_EMAIL_DOMAIN}`,
                  email_verified: true,
                  name: login,
                }),
              };
            },
          });
          return provider.callback();
        };
        const listening = createServer((req, res) => {
          // A failed load is not kept: the next request tries again.
          handler ??= load().catch((err: unknown) => {
            handler = undefined;
            throw err;
          });
          handler.then(
            (serve) => serve(req, res),
            (err: unknown) => {
              ctx.logger.error({ err }, 'development OpenID provider: oidc-provider could not be loaded');
              res.writeHead(503, { 'content-type': 'application/problem+json' }).end(
                JSON.stringify({
                  type: 'about:blank',
                  title: 'Development OpenID provider unavailable',
                  status: 503,
                  code: 'GANTRY_SANDBOX_DEV_IDP_UNAVAILABLE',
                }),
              );
            },
          );
        });
        await new Promise<void>((resolve, reject) => {
          listening.once('error', (err) =>
            reject(
              SandboxErrors.DEV_IDP_LISTEN(
                `the development OpenID provider cannot listen on ${issuer}: ${err.message}`,
                { cause: err },
              ),
            ),
          );
          listening.listen(port, HOST, () => resolve());
        });
        server = listening;
        ctx.logger.info(
          { issuer },
          `development OpenID provider at ${issuer}: any login name signs in as <name>@${DEV_EMAIL_DOMAIN}`,
        );
      },
      stop: async () => {
        const closing = server;
        server = undefined;
        if (!closing) return;
        await new Promise<void>((resolve) => {
          closing.close(() => resolve());
          closing.closeAllConnections();
        });
      },
    });
    ctx.health.check(() => (server ? { status: 'up', details: { issuer } } : { status: 'down' }), { critical: false });
  },
});
