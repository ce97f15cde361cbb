import { z } from 'zod';

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const backoff = z
  .object({
    initialMs: z
      .number()
      .int()
      .min(10)
      .max(60_000)
      .default(500)
      .describe('First retry delay after a failed Consul call, in ms; doubles per failure (with jitter)'),
    maxMs: z
      .number()
      .int()
      .min(10)
      .max(600_000)
      .default(30_000)
      .describe('Longest retry delay after failed Consul calls, in ms'),
  })
  .strict()
  .default({ initialMs: 500, maxMs: 30_000 })
  .describe('Retry delays of every Consul call that failed (blocking queries, registration)');

/** Options of the `consul-config` plugin. */
export const consulConfigSchema = z
  .object({
    url: z
      .url({ protocol: /^https?$/ })
      .default('http://127.0.0.1:8500')
      .describe("The Consul agent's HTTP API (http or https)"),
    token: z
      .string()
      .min(1)
      .optional()
      .describe('ACL token sent as X-Consul-Token (a secret: no default; set it from the environment)'),
    app: z
      .string()
      .regex(SEGMENT)
      .optional()
      .describe("Application name: the KV folder and the service name (default: the app folder's name)"),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_./-]{0,127}$/)
      .default('gantry')
      .describe('Root folder of the KV layout: <prefix>/<app>/<profile>/<plugin>/<option path>'),
    required: z
      .boolean()
      .default(false)
      .describe(
        'true: refuse to start when Consul is unreachable at boot. false: start on local config with readiness degraded, and keep trying',
      ),
    config: z
      .object({
        enabled: z.boolean().default(true).describe('Read plugin options from Consul KV and watch them'),
        waitMs: z
          .number()
          .int()
          .min(1_000)
          .max(600_000)
          .default(30_000)
          .describe('How long one blocking query may wait for a change (Consul `wait`)'),
      })
      .strict()
      .default({ enabled: true, waitMs: 30_000 })
      .describe('The config source (Consul KV)'),
    register: z
      .object({
        enabled: z.boolean().default(true).describe('Register this instance in Consul while it serves (needs "http")'),
        service: z.string().regex(SEGMENT).optional().describe('Service name (default: app)'),
        id: z
          .string()
          .regex(SEGMENT)
          .optional()
          .describe('Instance id, unique per agent (default: <service>-<hostname>-<port>)'),
        address: z
          .string()
          .min(1)
          .optional()
          .describe(
            "Address other services reach this one at (default: the http plugin's bound host, or 127.0.0.1 when it binds every interface)",
          ),
        port: z
          .number()
          .int()
          .min(1)
          .max(65_535)
          .optional()
          .describe("Port to register (default: the http plugin's listening port)"),
        tags: z.array(z.string().min(1).max(255)).max(64).default([]).describe('Service tags'),
        checkInterval: z
          .string()
          .regex(/^\d+(ms|s|m)$/)
          .default('10s')
          .describe('How often Consul polls /readyz (Consul duration)'),
        checkTimeout: z
          .string()
          .regex(/^\d+(ms|s|m)$/)
          .default('5s')
          .describe('Timeout of one /readyz poll'),
        deregisterCriticalAfter: z
          .string()
          .regex(/^\d+(s|m|h)$/)
          .default('10m')
          .describe('Consul removes an instance whose check stayed critical this long (a crashed process)'),
      })
      .strict()
      .default({ enabled: true, tags: [], checkInterval: '10s', checkTimeout: '5s', deregisterCriticalAfter: '10m' })
      .describe('Registration of this instance, with an HTTP check on /readyz'),
    discovery: z
      .object({
        waitMs: z
          .number()
          .int()
          .min(1_000)
          .max(600_000)
          .default(30_000)
          .describe('How long one blocking health query may wait for a change'),
        resolveTimeoutMs: z
          .number()
          .int()
          .min(100)
          .max(60_000)
          .default(5_000)
          .describe('How long the first resolve() of a service waits for Consul'),
      })
      .strict()
      .default({ waitMs: 30_000, resolveTimeoutMs: 5_000 })
      .describe(
        'Discovery of healthy instances of other services (DiscoveryToken); watches start at the first resolve()',
      ),
    backoff,
  })
  .strict();

/** Validated options of the consul-config plugin. */
export type ConsulConfigOptions = z.output<typeof consulConfigSchema>;
