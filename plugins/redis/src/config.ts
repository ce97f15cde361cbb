import { z } from 'zod';

/** Options of the `redis` plugin (config key `redis`, env `GANTRY_REDIS__<KEY>`). */
export const redisConfigSchema = z
  .object({
    url: z
      .string()
      .regex(/^rediss?:\/\/\S+$/, 'must look like redis://host:6379 (or rediss:// for TLS)')
      .default('redis://127.0.0.1:6379')
      .describe('Redis server (redis:// or rediss://, optionally with user:password@ and /db)'),
    commandTimeoutMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(1_000)
      .describe('Longest wait for one command; past it the command fails (callers answer 503)'),
    connectTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(3_000)
      .describe('Longest wait for the TCP connection (also bounds the start hook when Redis is unreachable)'),
    critical: z
      .boolean()
      .default(true)
      .describe(
        'Whether an unreachable Redis takes the instance out of readiness (/readyz 503) or only marks it degraded',
      ),
  })
  .strict();

/** Validated options of the `redis` plugin. */
export type RedisConfig = z.output<typeof redisConfigSchema>;
