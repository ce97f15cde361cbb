import { z } from 'zod';

const ORIGIN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** CORS options: which browser origins may call the API, and with which credentials. */
export const corsSchema = z
  .object({
    origins: z
      .union([
        z
          .array(
            z
              .string()
              .regex(
                ORIGIN,
                'must be an origin such as "https://app.example.com" (scheme, host, optional port; no path)',
              ),
          )
          .max(100),
        z.literal('*'),
      ])
      .default([])
      .describe(
        'Origins allowed to call the API from a browser, exactly as the browser sends them, or "*" (any origin, never with credentials); [] turns CORS off',
      ),
    credentials: z
      .boolean()
      .default(false)
      .describe(
        'Let listed origins send cookies (the session cookie): Access-Control-Allow-Credentials. Requires explicit origins',
      ),
    maxAgeSeconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(600)
      .describe('How long a browser may cache a preflight answer'),
  })
  .strict()
  .refine((c) => !(c.credentials && c.origins === '*'), {
    message: 'credentials cannot be allowed for any origin ("*"): list the origins',
    path: ['credentials'],
  });

/** Options of the `http` plugin (config key `http`, env `GANTRY_HTTP__<KEY>`). */
export const httpConfigSchema = z
  .object({
    engine: z
      .enum(['express', 'fastify'])
      .default('express')
      .describe(
        'Framework that serves requests: "express" (express 5) or "fastify" (fastify 5); routes, plugins, statuses and problems are the same on both',
      ),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe('TCP port; defaults to $PORT, else 3000. 0 picks a free port'),
    host: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe(
        'Interface to bind: loopback by default; a container or a host behind a proxy on another machine sets "0.0.0.0" explicitly',
      ),
    listen: z.boolean().default(true).describe('Open a socket; false serves in-process only (tests with inject())'),
    basePath: z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'must look like /api/v1 (or be empty)')
      .default('/api/v1')
      .describe('Prefix of plugin routes (root routes such as /healthz are not prefixed)'),
    bodyLimit: z
      .union([z.string().regex(/^\d+(b|kb|mb)$/i, 'must look like 100kb'), z.number().int().positive()])
      .default('100kb')
      .describe('Largest accepted request body; larger bodies get 413'),
    trustProxy: z
      .union([z.literal(false), z.number().int().min(1).max(10)])
      .default(false)
      .describe('Number of reverse-proxy hops to trust for the client IP (exact count, never `true`)'),
    requestTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe('Deadline of each request: its context signal aborts after it'),
    drainTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(10_000)
      .describe('How long shutdown waits for in-flight requests before closing their connections'),
    keepAliveTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe('Idle keep-alive timeout of client connections'),
    etag: z.boolean().default(false).describe('Compute ETags for responses (costs a hash per response)'),
    readinessDetails: z
      .enum(['loopback', 'always', 'never'])
      .default('loopback')
      .describe(
        'Who sees the per-plugin checks of /readyz (store kinds, issuers, errors): "loopback" callers only (a request forwarded by a proxy is not loopback), everyone, or nobody; others get only the status',
      ),
    cors: corsSchema
      .default({ origins: [], credentials: false, maxAgeSeconds: 600 })
      .describe('Cross-origin requests from browsers (off until origins are listed)'),
    hsts: z
      .boolean()
      .default(true)
      .describe('Send Strict-Transport-Security (disable only for plain-HTTP development hosts)'),
  })
  .strict();

/** Validated options of the `http` plugin. */
export type HttpConfig = z.output<typeof httpConfigSchema>;
