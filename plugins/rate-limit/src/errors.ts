import { defineErrors } from '@gantry/core';

/** Error registry of the `rate-limit` plugin (codes `GANTRY_RATE_LIMIT_<REASON>`). Retired codes are never reused. */
export const RateLimitErrors = defineErrors('rate-limit', {
  EXCEEDED: {
    status: 429,
    title: 'Too many requests',
    fix: 'wait for the Retry-After delay before sending this request again',
  },
  UNAVAILABLE: {
    status: 503,
    title: 'Rate limiting is unavailable',
    fix: 'retry after the Retry-After delay; operators: check that Redis is up and reachable (see /readyz and the redis plugin\'s "Redis unavailable" log line)',
  },
  UNKNOWN_POLICY: {
    status: 500,
    title: 'Unknown rate-limit policy',
    fix: 'declare the policy under plugins["rate-limit"].policies, or correct meta.rateLimit of the route (a policy name, or false to exempt it)',
  },
  REDIS_REQUIRED: {
    status: 500,
    title: 'The redis plugin is required',
    fix: 'enable the "redis" plugin (e.g. plugins.redis: { "url": "redis://redis:6379" }), or set plugins["rate-limit"].store to "memory" (counts per process)',
  },
  DECLARATION_INVALID: {
    status: 500,
    title: 'Route rate-limit declaration is invalid',
    fix: 'set meta.rateLimit of the route to a policy name (string) or false; leave it out to use the default policy',
  },
  // Retired (never reuse these names): LENGTH_REQUIRED (411), which refused chunked bodies on
  // `ip+body.<field>` routes while the account was read by peeking at the raw body.
});
