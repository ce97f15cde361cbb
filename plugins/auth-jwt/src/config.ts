import { z } from 'zod';

/** Signing algorithms the plugin can be pinned to (one per deployment; never negotiated from a token). */
export const ALGORITHMS = ['EdDSA', 'ES256', 'RS256'] as const;

/** One signing algorithm of {@link ALGORITHMS}. */
export type JwtAlgorithm = (typeof ALGORITHMS)[number];

/** A key id: appears in token headers, the JWKS and logs. */
const KID = /^[A-Za-z0-9._:-]{1,128}$/;

/** One key of the key ring: a private key (signs and verifies) or a public key only (verifies tokens of a retired key). */
export const keySchema = z
  .object({
    kid: z
      .string()
      .regex(KID, 'must be 1-128 letters, digits, ".", "_", ":" or "-"')
      .describe('Key id, written in the "kid" header of every token it signs and in the JWKS'),
    privateKey: z
      .union([z.string().min(1), z.record(z.string(), z.unknown())])
      .optional()
      .describe(
        'Private key (a secret, no default): PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), or a private JWK as an object or a JSON string',
      ),
    publicKey: z
      .union([z.string().min(1), z.record(z.string(), z.unknown())])
      .optional()
      .describe(
        'Public key only, for a retired key whose tokens must still verify: SPKI PEM ("-----BEGIN PUBLIC KEY-----") or a public JWK',
      ),
  })
  .strict()
  .refine((k) => (k.privateKey === undefined) !== (k.publicKey === undefined), {
    message: 'give exactly one of privateKey or publicKey',
  });

/** One key as written in the config. */
export type KeyOptions = z.input<typeof keySchema>;

/** Options of the `auth-jwt` plugin (config key `auth-jwt`, env `GANTRY_AUTH_JWT__<KEY>`). */
export const authJwtConfigSchema = z
  .object({
    issuer: z
      .string()
      .min(1)
      .describe('Value of the "iss" claim of issued tokens; tokens with another issuer are refused (required)'),
    audience: z
      .string()
      .min(1)
      .describe('Value of the "aud" claim of issued tokens; tokens not meant for this audience are refused (required)'),
    algorithm: z
      .enum(ALGORITHMS)
      .default('ES256')
      .describe(
        'The one signing algorithm accepted and used ("EdDSA", "ES256" or "RS256"); tokens with any other "alg" header are refused',
      ),
    accessTtlSeconds: z
      .number()
      .int()
      .min(30)
      .max(86_400)
      .default(900)
      .describe('Lifetime of access tokens in seconds (default 15 minutes)'),
    refreshTtlSeconds: z
      .number()
      .int()
      .min(60)
      .max(31_536_000)
      .default(2_592_000)
      .describe(
        'Lifetime of refresh tokens in seconds (default 30 days); also how long revocations are kept in the store',
      ),
    clockToleranceSeconds: z
      .number()
      .int()
      .min(0)
      .max(300)
      .default(5)
      .describe('Clock skew between instances accepted when checking "exp" and "nbf", in seconds'),
    tokenCache: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe('Remember successful access-token verifications (false: every request verifies the signature)'),
        max: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(10_000)
          .describe('Most tokens remembered; the least recently used is dropped first (about 1 KB each)'),
        ttlMs: z
          .number()
          .int()
          .min(1_000)
          .max(3_600_000)
          .default(60_000)
          .describe(
            'How long a verification is remembered, in milliseconds (never past the token\'s own "exp"); revocation and exp/nbf are re-checked on every use regardless',
          ),
      })
      .strict()
      .default({ enabled: true, max: 10_000, ttlMs: 60_000 })
      .describe(
        'Verified-token cache: a token whose signature and claims were verified is remembered (keyed by its SHA-256) so later requests skip the signature check; exp/nbf and revocation are checked on every request, entries of a key removed from the key ring are dropped at once, failures are never remembered',
      ),
    revocationCache: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'With the redis store: keep the revocation keys read from Redis in memory while Redis pushes every change of them (CLIENT TRACKING); false: every request reads Redis',
          ),
        max: z
          .number()
          .int()
          .min(2)
          .max(1_000_000)
          .default(10_000)
          .describe(
            'Most revocation keys kept (two per active session: its family and its subject); the oldest read goes first',
          ),
        ttlMs: z
          .number()
          .int()
          .min(100)
          .max(60_000)
          .default(1_000)
          .describe(
            'Longest a kept value is used before Redis is read again, in milliseconds: how late a revocation can be seen should the push connection fail without the socket noticing',
          ),
      })
      .strict()
      .default({ enabled: true, max: 10_000, ttlMs: 1_000 })
      .describe(
        'Revocation cache (redis store only): a revocation made on any instance is seen as soon as Redis pushes it (the revoking call returns once it has), on the revoking instance at once; with the push connection lost nothing is kept; a server refusing CLIENT TRACKING (before Redis 6) leaves every lookup in Redis',
      ),
    keys: z
      .array(keySchema)
      .min(1)
      .optional()
      .describe(
        'Key ring, oldest first: the last key with a privateKey signs, every key verifies (rotate by appending a key, retire by replacing privateKey with publicKey, then removing it). No default: when absent, the embedded profile generates one ephemeral key at start (tokens die with the process); every other profile refuses to start',
      ),
    store: z
      .enum(['memory', 'redis'])
      .optional()
      .describe(
        'Where refresh-token state and revocations live: "memory" (this process only) or "redis" (shared by every instance, through the connection of the redis plugin, which must be enabled). Default: memory in the embedded profile, redis otherwise',
      ),
    prefix: z
      .string()
      .min(1)
      .max(64)
      .regex(/^\S+$/, 'must not contain spaces')
      .default('gantry:jwt:')
      .describe(
        'Prefix of every Redis key (`<prefix>rt:<jti>`, `<prefix>fam:<fid>`, `<prefix>sub:<sub>`); give each application sharing a Redis its own',
      ),
  })
  .strict()
  .refine((c) => c.refreshTtlSeconds > c.accessTtlSeconds, {
    message: 'refreshTtlSeconds must be longer than accessTtlSeconds',
    path: ['refreshTtlSeconds'],
  });

/** Validated options of the `auth-jwt` plugin. */
export type AuthJwtConfig = z.output<typeof authJwtConfigSchema>;

/** Options of the `auth-jwt` plugin as written in the config file. */
export type AuthJwtOptions = z.input<typeof authJwtConfigSchema>;
