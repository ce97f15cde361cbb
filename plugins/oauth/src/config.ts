import { z } from 'zod';

/** Names of OIDC providers: they appear in the route (`/auth/oauth/<name>`) and in `oauth:<name>` login methods. */
export const PROVIDER_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** The two providers with a dedicated passport strategy; an OIDC entry cannot take their names. */
export const BUILT_IN_PROVIDERS = ['google', 'facebook'] as const;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True for an https URL, or an http one on a loopback host (development and tests only). */
export function isSecureOrLoopback(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  if (url.username !== '' || url.password !== '' || url.hash !== '') return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
}

/** True for a bare origin (`scheme://host[:port]`, optional trailing slash) that {@link isSecureOrLoopback} accepts. */
function isOrigin(value: string): boolean {
  if (!isSecureOrLoopback(value)) return false;
  const url = new URL(value);
  return url.pathname === '/' && url.search === '' && !value.endsWith('?');
}

const secureUrl = z
  .string()
  .refine(isSecureOrLoopback, 'must be an https URL (http only on localhost, 127.0.0.1 or [::1])');

/** An endpoint override: unset in production (the strategy's own endpoint is used), set in tests against a local provider. */
const endpoint = (what: string, schema: z.ZodType<string> = secureUrl) =>
  schema
    .optional()
    .describe(
      `${what}; leave unset in production (the strategy's own endpoint is used): meant for tests against a local provider`,
    );

const clientId = z.string().min(1).max(512).describe('Client id registered at the provider (required)');
const clientSecret = z
  .string()
  .min(1)
  .max(2048)
  .describe('Client secret registered at the provider (a secret, no default; never logged nor returned)');
const scope = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be one scope token (no spaces or quotes)');

/** Google through passport-google-oauth20. */
const googleSchema = z
  .object({
    clientId,
    clientSecret,
    scopes: z
      .array(scope)
      .min(1)
      .default(['openid', 'email', 'profile'])
      .refine((s) => s.includes('email'), 'must include "email" (accounts are linked by verified email)')
      .describe('Scopes requested; must include "email"'),
    authorizationUrl: endpoint('Authorization endpoint'),
    tokenUrl: endpoint('Token endpoint'),
    userInfoUrl: endpoint(
      'OpenID user info endpoint; its path must end with /userinfo (the strategy then reads the OpenID claims format)',
      secureUrl.refine((u) => new URL(u).pathname.endsWith('/userinfo'), 'the path must end with /userinfo'),
    ),
  })
  .strict();

/** Facebook through passport-facebook. */
const facebookSchema = z
  .object({
    clientId,
    clientSecret,
    graphApiVersion: z
      .string()
      .regex(/^v\d{1,3}\.\d{1,2}$/, 'must look like v21.0')
      .default('v21.0')
      .describe('Graph API version of the default endpoints'),
    scopes: z
      .array(scope)
      .min(1)
      .default(['email', 'public_profile'])
      .refine((s) => s.includes('email'), 'must include "email" (accounts are linked by verified email)')
      .describe('Permissions requested; must include "email"'),
    authorizationUrl: endpoint('Login dialog endpoint'),
    tokenUrl: endpoint('Token endpoint'),
    profileUrl: endpoint('Graph "me" endpoint the profile is read from'),
  })
  .strict();

/** Any OpenID Connect issuer through openid-client. */
const oidcSchema = z
  .object({
    issuer: secureUrl.describe(
      'Issuer URL; its /.well-known/openid-configuration is read at start, or on first use (see discover) (required)',
    ),
    clientId,
    clientSecret,
    scopes: z
      .array(scope)
      .min(1)
      .default(['openid', 'email', 'profile'])
      .refine((s) => s.includes('openid'), 'must include "openid"')
      .describe('Scopes requested; must include "openid"'),
    tokenEndpointAuthMethod: z
      .enum(['client_secret_basic', 'client_secret_post'])
      .default('client_secret_basic')
      .describe('How the client authenticates at the token endpoint, as registered at the provider'),
    discover: z
      .enum(['start', 'first-use'])
      .default('start')
      .describe(
        "When the issuer metadata is read: at start (readiness reports an unreachable issuer at once) or at the first sign-in (an issuer started on demand, as the sandbox's development provider)",
      ),
  })
  .strict();

/** Options of the `oauth` plugin (config key `oauth`, env `GANTRY_OAUTH__<KEY>`). */
export const oauthConfigSchema = z
  .object({
    callbackBaseUrl: z
      .string()
      .refine(
        isOrigin,
        'must be an origin such as https://api.example.com (https; http only on localhost, 127.0.0.1 or [::1]; no path)',
      )
      .transform((v) => new URL(v).origin)
      .describe(
        'Public origin of the API (required): redirect URIs are built from it (never from the Host header), e.g. https://api.example.com gives https://api.example.com/api/v1/auth/oauth/google/callback',
      ),
    successRedirect: z
      .string()
      .regex(/^\/(?![/\\])[^\s\\]*$/, 'must be a path on callbackBaseUrl such as / or /app/home')
      .default('/')
      .describe('Where a browser goes (303) after a sign-in with ?mode=session, as a path on callbackBaseUrl'),
    stateTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(3_600)
      .default(600)
      .describe('How long a started sign-in may take before its state expires (default 10 minutes)'),
    timeoutMs: z
      .number()
      .int()
      .min(1_000)
      .max(60_000)
      .default(10_000)
      .describe('Longest wait for the provider (discovery, token exchange, profile) before answering 502'),
    providers: z
      .object({
        google: googleSchema.optional().describe('Sign in with Google: { clientId, clientSecret, scopes }'),
        facebook: facebookSchema
          .optional()
          .describe('Sign in with Facebook: { clientId, clientSecret, graphApiVersion, scopes }'),
        oidc: z
          .record(
            z
              .string()
              .regex(PROVIDER_NAME, 'must be 1-32 lowercase letters, digits or "-", starting with a letter')
              .refine(
                (n) => !(BUILT_IN_PROVIDERS as readonly string[]).includes(n),
                'google and facebook are the built-in providers: choose another name',
              ),
            oidcSchema,
          )
          .default({})
          .describe(
            'OpenID Connect issuers by name (the name is the :provider of the routes): { issuer, clientId, clientSecret, scopes, tokenEndpointAuthMethod }',
          ),
      })
      .strict()
      .refine(
        (p) => p.google !== undefined || p.facebook !== undefined || Object.keys(p.oidc).length > 0,
        'configure at least one provider (google, facebook or an oidc entry)',
      )
      .describe('The sign-in providers; at least one'),
  })
  .strict();

/** Validated options of the `oauth` plugin. */
export type OAuthConfig = z.output<typeof oauthConfigSchema>;

/** Options of the `oauth` plugin as written in the config file. */
export type OAuthOptions = z.input<typeof oauthConfigSchema>;

/** Validated options of the Google provider. */
export type GoogleConfig = NonNullable<OAuthConfig['providers']['google']>;
/** Validated options of the Facebook provider. */
export type FacebookConfig = NonNullable<OAuthConfig['providers']['facebook']>;
/** Validated options of one OIDC provider. */
export type OidcConfig = OAuthConfig['providers']['oidc'][string];
