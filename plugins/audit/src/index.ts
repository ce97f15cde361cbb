/** @gantry/plugin-audit: an append-only audit trail of auth events and admin actions. */
export { plugin } from './plugin.js';
export { AuditToken } from './tokens.js';
export { AuditErrors } from './errors.js';
export { auditConfigSchema, type AuditConfig } from './config.js';
export {
  ACTION_PATTERN,
  AUDIT_OUTCOMES,
  type Audit,
  type AuditActor,
  type AuditEntry,
  type AuditObject,
  type AuditOutcome,
  type AuditPage,
  type AuditQuery,
  type AuditRecordInput,
  type AuditWriteStatus,
} from './audit.js';
export { cleanString, isSecretKey, sanitizeDetails, type SanitizeOptions } from './sanitize.js';
export { AuditEventEntity, auditMigrations, type AuditEventRow } from './entity.js';
