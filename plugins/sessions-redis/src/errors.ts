import { defineErrors } from '@gantry/core';

/** Error registry of the `sessions-redis` plugin (codes `GANTRY_SESSIONS_REDIS_<REASON>`). Retired codes are never reused. */
export const SessionsErrors = defineErrors('sessions-redis', {
  SESSION_EXPIRED: {
    status: 401,
    title: 'Session expired',
    fix: 'sign in again: the session passed its idle or absolute timeout',
  },
  SESSION_INVALID: {
    status: 401,
    title: 'Session not recognised',
    fix: 'sign in again: the session cookie names no live session (signed out, revoked or unknown)',
  },
  SESSION_NOT_FOUND: {
    status: 404,
    title: 'Session not found',
    fix: 'list your sessions with GET /auth/sessions and use one of their ids',
  },
  CROSS_SITE_REQUEST: {
    status: 403,
    title: 'Cross-site request refused',
    fix: "send state-changing cookie requests from the application's own origin (or list the sibling origin in allowedOrigins)",
  },
  ORIGIN_NOT_ALLOWED: {
    status: 403,
    title: 'Origin not allowed',
    fix: 'send state-changing cookie requests from the application\'s own origin, or list that origin in plugins["sessions-redis"].allowedOrigins',
  },
  CSRF_INVALID: {
    status: 403,
    title: 'CSRF token missing or invalid',
    fix: 'send the csrfToken of the sign-in response (or of GET /auth/csrf) in the "x-csrf-token" header',
  },
  STORE_UNAVAILABLE: {
    status: 503,
    title: 'Session store unavailable',
    fix: 'retry later; operators: check that Redis is up and reachable (see /readyz)',
  },
  REDIS_REQUIRED: {
    status: 500,
    title: 'The redis plugin is required',
    fix: 'enable the "redis" plugin (plugins.redis in the config), or set plugins["sessions-redis"].store to "memory" (one process only)',
  },
  CSRF_SECRET_REQUIRED: {
    status: 500,
    title: 'CSRF secret is required',
    fix: 'set plugins["sessions-redis"].csrfSecret (or GANTRY_SESSIONS_REDIS__CSRF_SECRET) to a random string of at least 32 characters, the same on every instance',
  },
  ARGUMENT_INVALID: {
    status: 500,
    title: 'Invalid session argument',
    fix: 'pass a user id of 1-200 characters, and a session id of 1-128 letters, digits, ".", "_", ":" or "-"',
  },
});
