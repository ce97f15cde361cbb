import { deepFreeze } from '@gantry/core';
import { z } from 'zod';

/** Policy names: used in `meta.rateLimit`, Redis keys, metric labels and the RateLimit headers. */
export const POLICY_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** `ip`, or `ip+body.<field>`: also count per account, read from a top-level field of the JSON body. */
export const KEY_BY = /^ip(\+body\.[A-Za-z_][A-Za-z0-9_]{0,63})?$/;

const windowMs = z
  .number()
  .int()
  .min(1_000)
  .max(86_400_000)
  .describe(
    "Length of the window in milliseconds (1 s to 1 day); a key's window starts at its first counted request and its count resets when the window ends",
  );
const limit = z
  .number()
  .int()
  .min(1)
  .max(1_000_000)
  .describe('Requests one key may make in one window; the next one is answered 429');

/** Which requests a counter counts: every one, only those answered with a status of 400 or more, or only those below 400. */
export const COUNT_MODES = ['all', 'failures', 'successes'] as const;

/** Which requests a counter counts (see {@link COUNT_MODES}). */
export type CountMode = (typeof COUNT_MODES)[number];

const count = z
  .enum(COUNT_MODES)
  .default('all')
  .describe(
    '"all": every request; "failures": only requests answered with a status of 400 or more (a success un-counts itself; on perAccountAndIp it also clears that pair\'s count); "successes": only requests answered below 400 (e.g. mails sent). A request is always counted when it arrives and refused when over the limit; the answer then decides whether it stays counted',
  );

/** One counter of a policy beyond the per-IP one: its own window, limit and what it counts. */
export const counterSchema = z.object({ windowMs, limit, count }).strict();

/** A counter's validated options. */
export type CounterConfig = z.output<typeof counterSchema>;

/** The progressive delay of a per-account counter: no delay up to `after` counted requests, then `initialMs`, doubling per request, at most `maxMs`. */
export const delaySchema = z
  .object({
    after: z
      .number()
      .int()
      .min(0)
      .max(1_000_000)
      .describe('Requests the account may have counted in its window before requests are held back'),
    initialMs: z
      .number()
      .int()
      .min(1)
      .max(60_000)
      .describe('Delay of the first request after `after`, in milliseconds; each further counted request doubles it'),
    maxMs: z
      .number()
      .int()
      .min(1)
      .max(60_000)
      .describe(
        'Longest delay in milliseconds; a request is never held for more than half the time left before its deadline',
      ),
  })
  .strict();

/** A progressive delay's validated options. */
export type DelayConfig = z.output<typeof delaySchema>;

/** Longest `knownSourceMs`: the memory store's expiry timer runs once per window and Node timers cannot wait longer than 2^31-1 ms (24.8 days). */
export const MAX_KNOWN_SOURCE_MS = 24 * 86_400_000;

/** The per-account counter (across every client IP) of an `ip+body.<field>` policy. */
export const accountCounterSchema = counterSchema
  .extend({
    delay: delaySchema
      .optional()
      .describe(
        'Progressive delay: once the account has `after` requests counted in its window, each further request is held back before it is handled (initialMs, doubling, at most maxMs), so the account is slowed down rather than locked',
      ),
    knownSourceMs: z
      .number()
      .int()
      .min(1_000)
      .max(MAX_KNOWN_SOURCE_MS)
      .optional()
      .describe(
        'When set: a client IP from which a request of this policy succeeded for the account (status below 400) stays "known" this long, and a known IP is let through when this per-account limit is exhausted (its perAccountAndIp limit and the delay still apply), so attackers on other addresses cannot lock the owner out. At most 24 days',
      ),
  })
  .strict();

/** The per-account counter's validated options. */
export type AccountCounterConfig = z.output<typeof accountCounterSchema>;

/** `policies.<name>.perAccount` and `.perAccountAndIp` exist only for `ip+body.<field>` policies. */
const ACCOUNT_ONLY = ['perAccount', 'perAccountAndIp'] as const;

/**
 * One rate-limit policy. `windowMs`, `limit` and `count` are its per-IP counter; `ip+body.<field>`
 * policies add a per-account counter (`perAccount`, by default the per-IP one's window, limit and
 * count) and optionally a per-account-and-IP one (`perAccountAndIp`).
 */
export const policySchema = z
  .object({
    windowMs,
    limit,
    count,
    keyBy: z
      .string()
      .regex(KEY_BY, 'must be "ip" or "ip+body.<field>" (e.g. "ip+body.email")')
      .default('ip')
      .describe(
        '"ip": one counter per client IP; "ip+body.<field>": also counters per account, keyed by that top-level JSON body field (trimmed, lower-cased, hashed): perAccount, and perAccountAndIp when given; a request over any limit is refused',
      ),
    perAccountAndIp: counterSchema
      .optional()
      .describe(
        'ip+body.<field> policies: a counter per (account, client IP) pair, checked before perAccount; absent: no such counter. The tight limit of one source guessing one account',
      ),
    perAccount: accountCounterSchema
      .optional()
      .describe(
        'ip+body.<field> policies: the counter per account across every client IP, with an optional progressive delay and known sources. Default: the per-IP windowMs, limit and count',
      ),
    failOpen: z
      .boolean()
      .optional()
      .describe(
        "When the Redis store cannot be reached (or a command exceeds the redis plugin's commandTimeoutMs): true lets requests through unlimited, false refuses them with 503 GANTRY_RATE_LIMIT_UNAVAILABLE. Default: true for the `default` policy, false for named policies",
      ),
  })
  .strict()
  .superRefine(
    (input, ctx) => {
      // Runs even when another field failed (see `when`), so every problem is reported in one boot:
      // each value is checked for its type before it is read.
      const policy = input as
        | { keyBy?: unknown; perAccount?: { delay?: { initialMs?: unknown; maxMs?: unknown } } }
        | undefined;
      const keyBy = policy?.keyBy ?? 'ip';
      if (typeof keyBy === 'string' && KEY_BY.test(keyBy) && !keyBy.startsWith('ip+body.')) {
        for (const option of ACCOUNT_ONLY) {
          if ((policy as Record<string, unknown>)[option] === undefined) continue;
          ctx.addIssue({
            code: 'custom',
            path: [option],
            message: `counts per account, so it needs keyBy "ip+body.<field>" (e.g. "ip+body.email"); remove it or set keyBy`,
          });
        }
      }
      const delay = policy?.perAccount?.delay;
      if (typeof delay?.initialMs === 'number' && typeof delay.maxMs === 'number' && delay.maxMs < delay.initialMs) {
        ctx.addIssue({
          code: 'custom',
          path: ['perAccount', 'delay', 'maxMs'],
          message: `must be at least initialMs (${delay.initialMs})`,
        });
      }
    },
    { when: () => true },
  );

/** A policy's validated options. */
export type PolicyConfig = z.output<typeof policySchema>;

/** A policy's options as written in the config file. */
export type PolicyOptions = z.input<typeof policySchema>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The built-in policy of routes that declare none: 300 requests per minute per IP. */
export const DEFAULT_POLICY: PolicyConfig = Object.freeze({ windowMs: MINUTE, limit: 300, count: 'all', keyBy: 'ip' });

/**
 * Built-in named policies of the identity routes, one per flow, so that one flow never spends
 * another's budget. An entry of the same name under `policies` replaces one of them whole. The README
 * (table "Built-in policies") gives the reasons for each number.
 */
export const BUILTIN_POLICIES: Readonly<Record<string, PolicyConfig>> = deepFreeze<Record<string, PolicyConfig>>({
  // Sign-in. Failed attempts only: per (account, IP) tight, per IP generous (spraying one password over
  // many accounts), per account loose across all IPs (NIST 800-63B: at most 100 failures) with a
  // growing delay; an IP that signed in to the account is not locked out by attackers elsewhere.
  auth: {
    windowMs: 15 * MINUTE,
    limit: 50,
    count: 'failures',
    keyBy: 'ip+body.email',
    perAccountAndIp: { windowMs: 15 * MINUTE, limit: 10, count: 'failures' },
    perAccount: {
      windowMs: HOUR,
      limit: 100,
      count: 'failures',
      delay: { after: 10, initialMs: 500, maxMs: 5_000 },
      knownSourceMs: 14 * 24 * HOUR,
    },
  },
  // Changing the own password (signed in): wrong current passwords per IP.
  'password-change': { windowMs: 15 * MINUTE, limit: 10, count: 'failures', keyBy: 'ip' },
  // MFA codes: the mfaToken is only known to whoever passed the password, so per token stays tight.
  mfa: {
    windowMs: 15 * MINUTE,
    limit: 30,
    count: 'failures',
    keyBy: 'ip+body.mfaToken',
    perAccount: { windowMs: 15 * MINUTE, limit: 5, count: 'failures' },
  },
  // Sign-up: an office behind one NAT signs many people up; one address gets at most 3 mails an hour.
  signup: {
    windowMs: HOUR,
    limit: 60,
    count: 'all',
    keyBy: 'ip+body.email',
    perAccount: { windowMs: HOUR, limit: 3, count: 'successes' },
  },
  // Email verification with the mailed token (256 random bits: nothing to guess); only failures count.
  'verify-email': { windowMs: HOUR, limit: 30, count: 'failures', keyBy: 'ip' },
  // A new verification mail: at most 3 an hour to one address.
  'verify-resend': {
    windowMs: HOUR,
    limit: 30,
    count: 'all',
    keyBy: 'ip+body.email',
    perAccount: { windowMs: HOUR, limit: 3, count: 'successes' },
  },
  // A password reset mail: at most 3 an hour to one address.
  'password-forgot': {
    windowMs: HOUR,
    limit: 30,
    count: 'all',
    keyBy: 'ip+body.email',
    perAccount: { windowMs: HOUR, limit: 3, count: 'successes' },
  },
  // A new password with the mailed token (256 random bits); weak passwords and bad links count.
  'password-reset': { windowMs: HOUR, limit: 30, count: 'failures', keyBy: 'ip' },
  // Retired from the users plugin (which now uses the five policies above); kept for routes that name it.
  reset: { windowMs: HOUR, limit: 5, count: 'all', keyBy: 'ip+body.email' },
  // Token refresh: 30 per minute per IP.
  refresh: { windowMs: MINUTE, limit: 30, count: 'all', keyBy: 'ip' },
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
      .describe(
        'Prefix of every Redis key (`<prefix><policy>:<ip>`, `<prefix><policy>:acct:<hash>`, `<prefix><policy>:acct-ip:<hash>:<ip>`, `<prefix><policy>:known:<hash>:<ip>`); give each application sharing a Redis its own',
      ),
    ipv6Subnet: z
      .union([z.number().int().min(32).max(64), z.literal(false)])
      .default(56)
      .describe(
        'IPv6 clients are counted per subnet of this prefix length (one customer usually holds a /56 or /64); false counts each IPv6 address alone',
      ),
    default: policySchema
      .default(DEFAULT_POLICY)
      .describe(
        'Policy of every non-root route that declares no `meta.rateLimit` (default 300 requests per minute per IP, fails open)',
      ),
    policies: z
      .record(z.string(), policySchema)
      .default({})
      .describe(
        'Named policies that routes choose with `meta: { rateLimit: "<name>" }`, added to the built-ins (auth, password-change, mfa, signup, verify-email, verify-resend, password-forgot, password-reset, reset, refresh); an entry named like a built-in replaces it whole',
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
          ctx.addIssue({
            code: 'custom',
            path: ['policies', name],
            message: 'a policy cannot be named "default": set the top-level "default" option instead',
          });
        } else if (!POLICY_NAME.test(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['policies', name],
            message: `policy name "${name}" must start with a letter and use only letters, digits, "_", "." or "-" (64 characters at most)`,
          });
        }
      }
    },
    { when: () => true },
  );

/** Validated options of the `rate-limit` plugin. */
export type RateLimitConfig = z.output<typeof rateLimitConfigSchema>;

/** Options of the `rate-limit` plugin as written in the config file. */
export type RateLimitOptions = z.input<typeof rateLimitConfigSchema>;
