import { z } from 'zod';

/** Options of the `http` plugin (config key `http`, env `GANTRY_HTTP__<KEY>`). */
export const httpConfigSchema = z
  .object({
    port: z.number().int().min(0).max(65535).optional().describe('TCP port; defaults to $PORT, else 3000. 0 picks a free port'),
    host: z.string().min(1).default('0.0.0.0').describe('Interface to bind'),
    listen: z.boolean().default(true).describe('Open a socket; false serves in-process only (tests with inject())'),
    basePath: z.string().regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'must look like /api/v1 (or be empty)').default('/api/v1').describe('Prefix of plugin routes (root routes such as /healthz are not prefixed)'),
    bodyLimit: z.union([z.string().regex(/^\d+(b|kb|mb)$/i, 'must look like 100kb'), z.number().int().positive()]).default('100kb').describe('Largest accepted request body; larger bodies get 413'),
    trustProxy: z.union([z.literal(false), z.number().int().min(1).max(10)]).default(false).describe('Number of reverse-proxy hops to trust for the client IP (exact count, never `true`)'),
    requestTimeoutMs: z.number().int().positive().default(30_000).describe('Deadline of each request: its context signal aborts after it'),
    drainTimeoutMs: z.number().int().positive().default(10_000).describe('How long shutdown waits for in-flight requests before closing their connections'),
    keepAliveTimeoutMs: z.number().int().positive().default(5_000).describe('Idle keep-alive timeout of client connections'),
    etag: z.boolean().default(false).describe('Compute ETags for responses (costs a hash per response)'),
    hsts: z.boolean().default(true).describe('Send Strict-Transport-Security (disable only for plain-HTTP development hosts)'),
  })
  .strict();

/** Validated options of the `http` plugin. */
export type HttpConfig = z.output<typeof httpConfigSchema>;
