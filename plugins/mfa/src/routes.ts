import type { HttpRouter, RouteRequest } from '@gantry/core';
import { z } from 'zod';
import type { MfaService } from './service.js';

const TAGS = ['auth', 'mfa'];
/** Any signed-in caller (what `authenticated()` of @gantry/plugin-rbac declares). */
const SIGNED_IN = { auth: true, permission: 'authenticated' } as const;

/** A TOTP code (6 digits) or a recovery code (`xxxx-xxxx-xxxx-xxxx`); spaces and dashes are ignored. */
const code = z.string().min(1).max(64);

const confirmBody = z.object({ code }).strict();
const disableBody = z.object({ password: z.string().min(1).max(512).optional(), code }).strict();
const verifyBody = z.object({ mfaToken: z.string().min(1).max(128), code }).strict();
const enrollResponse = z.object({ secret: z.string(), otpauthUrl: z.string() });
const confirmResponse = z.object({ recoveryCodes: z.array(z.string()) });

function callerId(req: RouteRequest): string {
  // The routes require a signed-in caller: the HTTP layer answered 401 before the handler otherwise.
  return req.context.principal!.id;
}

/** The MFA routes of the HTTP contract (`/auth/mfa/...`). */
export function mfaRoutes(http: HttpRouter, mfa: MfaService): void {
  http.post(
    '/auth/mfa/totp/enroll',
    {
      summary: 'Start a TOTP enrolment: a new secret and its otpauth:// URL (active once confirmed)',
      tags: TAGS,
      schema: { response: enrollResponse },
      meta: { ...SIGNED_IN },
    },
    async (req, reply) => {
      reply.header('Cache-Control', 'no-store');
      return mfa.enroll(callerId(req), req.ip);
    },
  );

  http.post(
    '/auth/mfa/totp/confirm',
    {
      summary: 'Confirm the enrolment with a current code; returns ten one-time recovery codes, shown once',
      tags: TAGS,
      schema: { body: confirmBody, response: confirmResponse },
      meta: { ...SIGNED_IN },
    },
    async (req, reply) => {
      reply.header('Cache-Control', 'no-store');
      return mfa.confirm(callerId(req), req.body.code, req.ip);
    },
  );

  http.delete(
    '/auth/mfa/totp',
    {
      summary: 'Turn TOTP off (needs the password and a current or recovery code)',
      tags: TAGS,
      status: 204,
      schema: { body: disableBody },
      meta: { ...SIGNED_IN },
    },
    async (req) => {
      await mfa.disable(callerId(req), req.body, req.ip);
      return undefined;
    },
  );

  http.post(
    '/auth/mfa/verify',
    {
      summary: 'Finish a sign-in with the mfaToken and a TOTP or recovery code',
      tags: TAGS,
      schema: { body: verifyBody },
      meta: { public: true, rateLimit: 'mfa' },
    },
    async (req, reply) => {
      reply.header('Cache-Control', 'no-store');
      return mfa.verify(req.body, req, reply);
    },
  );
}
