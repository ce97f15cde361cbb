import { z } from 'zod';

/** Default upper bounds (seconds) of `http_request_duration_seconds`: 1 ms to 10 s. */
export const DEFAULT_HTTP_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** Options of the `metrics` plugin (config key `metrics`, env `GANTRY_METRICS__<KEY>`). */
export const metricsConfigSchema = z
  .object({
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~/-]*$/, 'must be a literal path such as /metrics (no parameters)')
      .default('/metrics')
      .describe('Path of the Prometheus scrape endpoint, mounted at the server root (not under the API base path)'),
    prefix: z
      .string()
      .regex(/^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/, 'must be empty or start a Prometheus metric name, e.g. "myapp_"')
      .default('')
      .describe('Prefix of the default process and Node.js metrics, used as is (include the trailing "_")'),
    defaultMetrics: z
      .boolean()
      .default(true)
      .describe('Collect the default process and Node.js metrics (CPU, memory, heap, handles, event loop lag, GC)'),
    eventLoopResolutionMs: z
      .number()
      .int()
      .min(1)
      .max(1_000)
      .default(10)
      .describe(
        'Sampling interval of the event loop delay histogram behind nodejs_eventloop_lag_*_seconds (lower is finer and wakes the loop more often)',
      ),
    buckets: z
      .array(z.number().positive().finite())
      .min(1)
      .refine((b) => b.every((v, i) => i === 0 || v > b[i - 1]!), 'must be strictly increasing')
      .default([...DEFAULT_HTTP_BUCKETS])
      .describe(
        'Upper bounds in seconds of the http_request_duration_seconds buckets, strictly increasing (+Inf is implicit)',
      ),
  })
  .strict();

/** Validated options of the `metrics` plugin. */
export type MetricsConfig = z.output<typeof metricsConfigSchema>;
