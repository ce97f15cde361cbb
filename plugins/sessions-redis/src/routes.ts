import { currentContext, type HttpRouter, type Principal } from '@gantry/core';
import { z } from 'zod';
import type { AuditTrail } from './audit-trail.js';
import { SessionsErrors } from './errors.js';
import { SESSION_ID, type SessionService } from './sessions.js';

/** What {@link registerRoutes} needs. */
export interface SessionRoutesOptions {
  readonly sessions: SessionService;
  readonly audit: AuditTrail;
}

const SIGNED_IN = { auth: true, permission: 'authenticated' } as const;

const sessionView = z.object({
  id: z.string(),
  kind: z.enum(['cookie', 'token']),
  userId: z.string(),
  createdAt: z.string(),
  lastSeenAt: z.string(),
  expiresAt: z.string(),
  ip: z.string().optional(),
  userAgent: z.string().optional(),
  current: z.boolean(),
});
const sessionParams = z.object({ id: z.string().regex(SESSION_ID, 'must be a session id from GET /auth/sessions') });
const userParams = z.object({ id: z.string().min(1).max(200) });

/** The caller, set by an authenticator before any of these handlers runs (their routes require one). */
function caller(): Principal {
  const principal = currentContext()?.principal;
  if (!principal) throw SessionsErrors.SESSION_INVALID('no signed-in caller');
  return principal;
}

/** Registers the session routes: list and revoke one's own sessions, re-fetch the CSRF token, and the admin kill switch. */
export function registerRoutes(http: HttpRouter, { sessions, audit }: SessionRoutesOptions): void {
  http.get(
    '/auth/sessions',
    {
      summary: 'Your live sessions (browser cookies and token logins), newest first',
      tags: ['auth'],
      meta: SIGNED_IN,
      schema: { response: z.object({ sessions: z.array(sessionView) }) },
    },
    async () => {
      const principal = caller();
      const currentId = typeof principal.sessionId === 'string' ? principal.sessionId : undefined;
      return { sessions: await sessions.list(principal.id, currentId) };
    },
  );

  http.delete<z.infer<typeof sessionParams>>(
    '/auth/sessions/:id',
    {
      summary: 'Revoke one of your sessions (signs that browser or token login out)',
      tags: ['auth'],
      meta: SIGNED_IN,
      schema: { params: sessionParams },
    },
    async (req, reply) => {
      const principal = caller();
      const { id } = req.params;
      if (!(await sessions.revoke(principal.id, id)))
        throw SessionsErrors.SESSION_NOT_FOUND('you have no live session with this id', { details: { id } });
      // Revoking the session this very request came with signs this browser out: drop its cookies too.
      if (sessions.current()?.id === id) sessions.clearCookies(reply.raw);
      await audit.record({
        action: 'auth.session.revoke',
        outcome: 'success',
        object: { type: 'session', id },
        ...(req.ip ? { ip: req.ip } : {}),
      });
      return undefined;
    },
  );

  http.get(
    '/auth/csrf',
    {
      summary: 'The CSRF token of your cookie session (send it as "x-csrf-token" on unsafe requests)',
      tags: ['auth'],
      meta: { auth: 'session', permission: 'authenticated' },
      schema: { response: z.object({ csrfToken: z.string() }) },
    },
    (req, reply) => {
      const record = sessions.current();
      if (!record) throw SessionsErrors.SESSION_INVALID('GET /auth/csrf needs the session cookie');
      return { csrfToken: sessions.csrfToken(req.raw, reply.raw, record) };
    },
  );

  http.delete<z.infer<typeof userParams>>(
    '/users/:id/sessions',
    {
      summary: 'Revoke every session of a user (admin)',
      tags: ['auth', 'admin'],
      meta: { auth: true, permission: 'sessions:revoke' },
      schema: { params: userParams, response: z.object({ revoked: z.number().int() }) },
    },
    async (req) => {
      const { id } = req.params;
      const revoked = await sessions.revokeUser(id);
      await audit.record({
        action: 'admin.session.revoke',
        outcome: 'success',
        object: { type: 'user', id },
        details: { revoked },
        ...(req.ip ? { ip: req.ip } : {}),
      });
      return { revoked };
    },
  );
}
