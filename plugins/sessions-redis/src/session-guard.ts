import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  acceptsCredential,
  currentContext,
  type HttpMiddleware,
  type Principal,
  type RouteHook,
  type RouteInfo,
} from '@gantry/core';
import type { AuditTrail } from './audit-trail.js';
import { readCookie } from './cookies.js';
import { SessionsErrors } from './errors.js';
import type { OriginPolicy } from './origin-policy.js';
import type { SessionService } from './sessions.js';

/** Methods that change nothing: no CSRF check on them. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What {@link sessionHook} needs. */
export interface SessionGuardOptions {
  readonly sessions: SessionService;
  readonly origins: OriginPolicy;
  readonly cookieName: string;
  readonly audit: AuditTrail;
}

/**
 * The route hook: on every route that accepts a session cookie, a middleware (built once per route) that
 * authenticates a request carrying the cookie when no other authenticator already did (a request with
 * a bearer token got its principal from auth-jwt first). An unsafe method also needs same-origin Fetch
 * Metadata / Origin and the session's CSRF token. A request without the cookie passes on untouched.
 */
export function sessionHook(options: SessionGuardOptions): RouteHook {
  return (route) => (acceptsCredential(route, 'session') ? guardFor(route, options) : undefined);
}

function guardFor(route: RouteInfo, { sessions, origins, cookieName, audit }: SessionGuardOptions): HttpMiddleware {
  const unsafe = !SAFE_METHODS.has(route.method);

  const refuse = (
    req: IncomingMessage,
    next: (err?: unknown) => void,
    reason: string,
    error: unknown,
    userId?: string,
  ): void => {
    void audit
      .record({
        action: 'auth.csrf.refused',
        outcome: 'denied',
        ...(userId !== undefined ? { actor: { id: userId, kind: 'user' } } : {}),
        details: { reason, method: req.method, route: route.path },
        ...ipOf(req),
      })
      .then(() => next(error));
  };

  return function sessionsRedisGuard(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void {
    const ctx = currentContext();
    if (!ctx || ctx.principal) {
      next();
      return;
    }
    const value = readCookie(req.headers.cookie, cookieName);
    if (value === undefined) {
      next();
      return;
    }
    if (unsafe) {
      const refusal = origins.check(req);
      if (refusal) {
        refuse(req, next, refusal.reason, refusal.error);
        return;
      }
    }
    sessions.authenticate(value).then((outcome) => {
      if (outcome.status !== 'live') {
        sessions.clearCookies(res);
        next(
          outcome.status === 'expired'
            ? SessionsErrors.SESSION_EXPIRED(`the session passed its ${outcome.reason} timeout`, {
                details: { reason: outcome.reason },
              })
            : SessionsErrors.SESSION_INVALID('the session cookie names no live session'),
        );
        return;
      }
      const { record } = outcome;
      if (unsafe && !sessions.csrfValid(req, record)) {
        refuse(
          req,
          next,
          'token',
          SessionsErrors.CSRF_INVALID(
            `${req.method} ${route.path} with the session cookie needs the session's CSRF token in the "x-csrf-token" header`,
          ),
          record.userId,
        );
        return;
      }
      const principal: Principal = { id: record.userId, kind: 'user', via: 'session', sessionId: record.id };
      ctx.principal = principal;
      sessions.attach(record);
      next();
    }, next);
  };
}

/** The client IP for the audit entry (express's `req.ip`, which honours trust proxy). */
function ipOf(req: IncomingMessage): { ip?: string } {
  const ip = (req as { ip?: unknown }).ip;
  return typeof ip === 'string' ? { ip } : {};
}
