import { line } from '@gantry/core';
import { z } from 'zod';
import { ACTION_PATTERN, AUDIT_OUTCOMES } from './audit.js';

/** Query string of `GET /api/v1/audit`: the filters of Audit.query(). */
export const auditQuerySchema = z
  .object({
    actorId: line({ min: 1, max: 255 }).optional(),
    action: z.string().max(100).regex(ACTION_PATTERN, 'must look like "auth.login"').optional(),
    outcome: z.enum(AUDIT_OUTCOMES).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
    cursor: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,200}$/)
      .optional(),
  })
  .strict();
