import { defineErrors } from '@gantry/core';

/** Error registry of the `audit` plugin (codes `GANTRY_AUDIT_<REASON>`). Retired codes are never reused. */
export const AuditErrors = defineErrors('audit', {
  UNAVAILABLE: {
    status: 503,
    title: 'Audit trail unavailable',
    fix: 'the audit entry could not be stored (see the "audit write failed" log line, which carries the entry); check the database, then retry the action or refuse it',
  },
  INVALID_EVENT: {
    status: 500,
    title: 'Invalid audit event',
    fix: 'pass an action like "auth.login" or "admin.user.update" (lowercase dotted words) and an outcome of "success", "failure" or "denied"',
  },
  INVALID_QUERY: {
    status: 400,
    title: 'Invalid audit query',
    fix: 'pass a limit between 1 and 500, dates as Date or ISO 8601 strings, and a cursor exactly as returned by a previous query',
  },
});
