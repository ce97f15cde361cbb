import { z } from 'zod';
import { PERMISSION_PATTERN, ROLE_PATTERN } from './permissions.js';

/** One extra role to seed. */
const roleSchema = z
  .object({
    description: z.string().min(1).max(200).describe('What the role is for, shown by GET /api/v1/roles'),
    permissions: z
      .array(z.string().regex(PERMISSION_PATTERN, 'must look like "resource:action"'))
      .describe('Permissions the role grants'),
  })
  .strict();

/** Options of the `rbac` plugin (config key `rbac`, env `GANTRY_RBAC__<KEY>`). */
export const rbacConfigSchema = z
  .object({
    roles: z
      .record(z.string().regex(ROLE_PATTERN, 'role names are lower-case letters, digits and "-"'), roleSchema)
      .default({})
      .describe(
        'Extra roles seeded at start besides the built-in "admin" (every permission) and "user" (self-service only); a role already in the database gains missing permissions, never loses any',
      ),
    permissions: z
      .array(z.string().regex(PERMISSION_PATTERN, 'must look like "resource:action"'))
      .default([])
      .describe('Permissions to create besides those declared by routes (e.g. for checks in code with can())'),
    roleCacheTtlMs: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(1_000)
      .describe(
        "How long a subject's roles are kept in memory between reads (0: read on every check). A change applies at once on this instance, and on the others through Redis when the redis plugin is enabled; without it (or while Redis is unreachable) within this time",
      ),
    changesChannel: z
      .string()
      .min(1)
      .max(200)
      .default('gantry:rbac:roles-changed')
      .describe(
        'Redis pub/sub channel on which instances tell each other whose roles changed (with the redis plugin enabled); instances of one app share it',
      ),
    roleCacheSize: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe('Most subjects whose roles are kept in memory (least recently used dropped first)'),
  })
  .strict();

/** Validated options of the `rbac` plugin. */
export type RbacConfig = z.output<typeof rbacConfigSchema>;
