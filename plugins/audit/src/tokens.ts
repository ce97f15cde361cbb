import { token } from '@gantry/core';
import type { Audit } from './audit.js';

/** The {@link Audit} service: `record()` an event, `query()` the trail. */
export const AuditToken = token<Audit>('gantry.audit.Audit');
