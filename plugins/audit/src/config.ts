import { z } from 'zod';

/** Options of the `audit` plugin (config key `audit`, env `GANTRY_AUDIT__<KEY>`). */
export const auditConfigSchema = z
  .object({
    maxStringLength: z
      .number()
      .int()
      .min(16)
      .max(10_000)
      .default(1_000)
      .describe('Longest string kept in an entry (action excepted); longer strings are cut and end with "…"'),
    maxDepth: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(5)
      .describe('Deepest nesting of `details` kept; deeper values become "[truncated]"'),
    route: z
      .boolean()
      .default(true)
      .describe(
        'Serve GET /api/v1/audit (permission "audit:read") when the http plugin is enabled; it needs an authenticator (auth-jwt or sessions-redis) and rbac, else the boot fails',
      ),
  })
  .strict();

/** Validated options of the `audit` plugin. */
export type AuditConfig = z.output<typeof auditConfigSchema>;
