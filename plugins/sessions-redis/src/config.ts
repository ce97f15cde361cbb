import { z } from 'zod';

/** A cookie name with the `__Host-` prefix: the browser then insists on Secure, Path=/ and no Domain. */
const HOST_COOKIE = /^__Host-[A-Za-z0-9!#$%&'*+.^_`|~-]{1,56}$/;

/** True for a bare http(s) origin: `scheme://host[:port]`, with no credentials, path, query or fragment. */
function isOrigin(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (
    (url.protocol === 'https:' || url.protocol === 'http:') &&
    url.username === '' &&
    url.password === '' &&
    url.pathname === '/' &&
    url.search === '' &&
    url.hash === '' &&
    !value.endsWith('?') &&
    !value.endsWith('#')
  );
}

const secret = z.string().min(32, 'must be at least 32 characters');

/** Options of the `sessions-redis` plugin (config key `sessions-redis`, env `GANTRY_SESSIONS_REDIS__<KEY>`). */
export const sessionsConfigSchema = z
  .object({
    store: z
      .enum(['memory', 'redis'])
      .optional()
      .describe(
        'Where sessions live: "memory" (this process only) or "redis" (shared by every instance, through the redis plugin). Default: memory in the embedded profile, redis otherwise',
      ),
    prefix: z
      .string()
      .min(1)
      .max(64)
      .regex(/^\S+$/, 'must not contain spaces')
      .default('gantry:sess:')
      .describe(
        'Prefix of every Redis key (`<prefix>s:<hash>`, `<prefix>id:<id>`, `<prefix>u:<user>`); give each application sharing a Redis its own',
      ),
    cookieName: z
      .string()
      .regex(HOST_COOKIE, 'must start with "__Host-" followed by 1-56 cookie-name characters')
      .default('__Host-gantry.sid')
      .describe(
        'Name of the session cookie; the "__Host-" prefix is required (the cookie is then Secure, Path=/ and bound to this host)',
      ),
    csrfCookieName: z
      .string()
      .regex(HOST_COOKIE, 'must start with "__Host-" followed by 1-56 cookie-name characters')
      .default('__Host-gantry.csrf')
      .describe('Name of the CSRF cookie (the double-submit half of the CSRF token); the "__Host-" prefix is required'),
    sameSite: z
      .enum(['lax', 'strict'])
      .default('lax')
      .describe('SameSite attribute of both cookies: "lax" (links from other sites arrive signed in) or "strict"'),
    idleTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(2_592_000)
      .default(1_800)
      .describe('A session unused for this long ends (default 30 minutes); each request slides it'),
    absoluteTimeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(31_536_000)
      .default(43_200)
      .describe(
        'A session ends this long after sign-in, however active (default 12 hours); must be at least idleTimeoutSeconds',
      ),
    maxSessionsPerUser: z
      .number()
      .int()
      .min(1)
      .max(1_000)
      .default(20)
      .describe('Most live sessions (cookie and token logins) per user; a new one evicts the oldest'),
    csrfSecret: z
      .union([secret, z.array(secret).min(1).max(10)])
      .optional()
      .describe(
        'Secret (no default) that signs CSRF tokens, or a list to rotate: the first signs, every one verifies. Required outside the embedded profile, the same on every instance; the embedded profile generates one per process',
      ),
    allowedOrigins: z
      .array(
        z
          .string()
          .refine(isOrigin, 'must be an origin such as https://app.example.com (scheme, host and optional port only)'),
      )
      .max(100)
      .default([])
      .describe(
        "Origins besides the API's own host allowed to send state-changing cookie requests (e.g. a front-end on a sibling subdomain, which browsers mark Sec-Fetch-Site: same-site). Default: none",
      ),
  })
  .strict()
  .refine((c) => c.absoluteTimeoutSeconds >= c.idleTimeoutSeconds, {
    message: 'absoluteTimeoutSeconds must be at least idleTimeoutSeconds',
    path: ['absoluteTimeoutSeconds'],
  })
  .refine((c) => c.cookieName !== c.csrfCookieName, {
    message: 'csrfCookieName must differ from cookieName',
    path: ['csrfCookieName'],
  });

/** Validated options of the `sessions-redis` plugin. */
export type SessionsConfig = z.output<typeof sessionsConfigSchema>;

/** Options of the `sessions-redis` plugin as written in the config file. */
export type SessionsOptions = z.input<typeof sessionsConfigSchema>;
