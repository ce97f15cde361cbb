import { z } from 'zod';

/** Policy names: used in `meta.rateLimit`, Redis keys, metric labels and the RateLimit headers. */
export const POLICY_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** `ip`, or `ip+body.<field>`: also count per account, read from a top-level field of the JSON body. */
export const KEY_BY = /^ip(\+body\.[A-Za-z_][A-Za-z0-9_]{0,63})?$/;

/** One rate-limit policy: how many requests a key may make in a fixed window. */
export const policySchema = z
  .object({
    windowMs: z
      .number()
      .int()
      .min(1_000)
      .max(86_400_000)
      .describe('Length of the window in milliseconds (1 s to 1 day); a key\'s window starts at its first request and its count resets when the window ends'),
    limit: z.number().int().min(1).max(1_000_000).describe('Requests one key may make in one window; the next one is answered 429'),
    keyBy: z
      .string()
      .regex(KEY_BY, 'must be "ip" or "ip+body.<field>" (e.g. "ip+body.email")')
      .default('ip')
      .describe(
        '"ip": one counter per client IP; "ip+body.<field>": also a second counter per account, keyed by that top-level JSON body field (trimmed, lower-cased, hashed); a request over either limit is refused',
      ),
    failOpen: z
      .boolean()
      .optional()
      .describe(
        'When the Redis store cannot be reached (or a command exceeds the redis plugin\'s commandTimeoutMs): true lets requests through unlimited, false refuses them with 503 GANTRY_RATE_LIMIT_UNAVAILABLE. Default: true for the `default` policy, false for named policies',
      ),
  })
  .strict();

/** A policy's validated options. */
export type PolicyConfig = z.output<typeof policySchema>;

/** A policy's options as written in the config file. */
export type PolicyOptions = z.input<typeof policySchema>;

/** The built-in policy of routes that declare none: 300 requests per minute per IP. */
export const DEFAULT_POLICY: PolicyConfig = Object.freeze({ windowMs: 60_000, limit: 300, keyBy: 'ip' });

/**
 * Built-in named policies, tighter than the default, for the identity routes. An entry of the same
 * name under `policies` replaces one of them whole.
 */
export const BUILTIN_POLICIES: Readonly<Record<string, PolicyConfig>> = Object.freeze({
  // Login: 10 attempts per 15 minutes per IP, and per account across all IPs.
  auth: Object.freeze({ windowMs: 15 * 60_000, limit: 10, keyBy: 'ip+body.email' }),
  // MFA verification: 5 codes per 15 minutes per IP and per MFA challenge token.
  mfa: Object.freeze({ windowMs: 15 * 60_000, limit: 5, keyBy: 'ip+body.mfaToken' }),
  // Password forgot/reset: 5 per hour per IP, and per account when the body names one.
  reset: Object.freeze({ windowMs: 60 * 60_000, limit: 5, keyBy: 'ip+body.email' }),
  // Token refresh: 30 per minute per IP.
  refresh: Object.freeze({ windowMs: 60_000, limit: 30, keyBy: 'ip' }),
});

/** Options of the `rate-limit` plugin (config key `rate-limit`, env `GANTRY_RATE_LIMIT__<KEY>`). */
export const rateLimitConfigSchema = z
  .object({
    store: z
      .enum(['memory', 'redis'])
      .optional()
      .describe(
        'Where counters live: "memory" (this process only) or "redis" (shared by every instance, through the connection of the redis plugin, which must be enabled). Default: memory in the embedded profile, redis in every other profile',
      ),
    prefix: z
      .string()
      .min(1)
      .max(64)
      .regex(/^\S+$/, 'must not contain spaces')
      .default('gantry:rl:')
      .describe('Prefix of every Redis key (`<prefix><policy>:<ip>`, `<prefix><policy>:acct:<hash>`); give each application sharing a Redis its own'),
    ipv6Subnet: z
      .union([z.number().int().min(32).max(64), z.literal(false)])
      .default(56)
      .describe('IPv6 clients are counted per subnet of this prefix length (one customer usually holds a /56 or /64); false counts each IPv6 address alone'),
    default: policySchema.default(DEFAULT_POLICY).describe('Policy of every non-root route that declares no `meta.rateLimit` (default 300 requests per minute per IP, fails open)'),
    policies: z
      .record(z.string(), policySchema)
      .default({})
      .describe(
        'Named policies that routes choose with `meta: { rateLimit: "<name>" }`, added to the built-ins auth, mfa, reset and refresh; an entry named like a built-in replaces it',
      ),
  })
  .strict()
  .superRefine(
    (config, ctx) => {
      // Runs even when another field failed (see `when`), so every problem is reported in one boot.
      const policies: unknown = (config as { policies?: unknown } | undefined)?.policies;
      if (typeof policies !== 'object' || policies === null) return;
      for (const name of Object.keys(policies)) {
        if (name === 'default') {
          ctx.addIssue({ code: 'custom', path: ['policies', name], message: 'a policy cannot be named "default": set the top-level "default" option instead' });
        } else if (!POLICY_NAME.test(name)) {
          ctx.addIssue({ code: 'custom', path: ['policies', name], message: `policy name "${name}" must start with a letter and use only letters, digits, "_", "." or "-" (64 characters at most)` });
        }
      }
    },
    { when: () => true },
  );

/** Validated options of the `rate-limit` plugin. */
export type RateLimitConfig = z.output<typeof rateLimitConfigSchema>;

/** Options of the `rate-limit` plugin as written in the config file. */
export type RateLimitOptions = z.input<typeof rateLimitConfigSchema>;
