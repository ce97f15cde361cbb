import { token } from '@gantry/core';
import type { Audit } from './audit.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Audit } from './audit.js';

/** The {@link Audit} service: `record()` an event, `query()` the trail. */
export const AuditToken = token<Audit>('gantry.audit.Audit');
