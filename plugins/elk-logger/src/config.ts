import { z } from 'zod';

const backoff = {
  minBackoffMs: z
    .number()
    .int()
    .min(10)
    .max(60_000)
    .default(100)
    .describe('First wait before reconnecting / retrying after a failure; doubles (with jitter) up to maxBackoffMs'),
  maxBackoffMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('Longest wait between two reconnect / retry attempts'),
};

/** Options of the `elk-logger` plugin (config key `elk-logger`, env `GANTRY_ELK_LOGGER__<KEY>`). */
export const elkLoggerConfigSchema = z
  .object({
    level: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])
      .optional()
      .describe("Lowest level written; default the kernel's (kernel.logLevel, else LOG_LEVEL, else info)"),
    serviceName: z
      .string()
      .min(1)
      .max(100)
      .default('gantry')
      .describe(
        'ECS service.name on every line; event.dataset is "<serviceName>" (and "<serviceName>.audit" for audit entries)',
      ),
    serviceEnvironment: z
      .string()
      .max(100)
      .optional()
      .describe('ECS service.environment on every line; default the active profile'),
    accessLog: z
      .boolean()
      .default(true)
      .describe('Log one "request completed" line per HTTP response (method, route template, status, duration)'),
    console: z
      .object({
        enabled: z.boolean().default(true).describe('Write lines to stdout'),
        format: z
          .enum(['auto', 'pretty', 'ecs'])
          .default('auto')
          .describe(
            '"pretty" (human, one line), "ecs" (ECS JSON) or "auto": pretty in the embedded profile, ECS JSON otherwise',
          ),
      })
      .strict()
      .prefault({})
      .describe('The console transport'),
    logstash: z
      .object({
        enabled: z.boolean().default(false).describe("Ship lines to Logstash's tcp input (codec json_lines)"),
        host: z.string().min(1).default('127.0.0.1').describe('Logstash host'),
        port: z.number().int().min(1).max(65_535).default(5000).describe('Port of the tcp input'),
        bufferSize: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(10_000)
          .describe('Lines held while Logstash is unreachable or slow; past it the OLDEST are dropped and counted'),
        connectTimeoutMs: z
          .number()
          .int()
          .min(50)
          .max(60_000)
          .default(2_000)
          .describe('Limit of one connection attempt'),
        ...backoff,
      })
      .strict()
      .prefault({})
      .describe('The Logstash transport (TCP, one JSON document per line)'),
    elasticsearch: z
      .object({
        enabled: z.boolean().default(false).describe('Index lines directly with the _bulk API (ES 7/8, OpenSearch)'),
        url: z.string().default('http://127.0.0.1:9200').describe('Base URL of Elasticsearch or OpenSearch'),
        username: z.string().optional().describe('Basic auth user (with password)'),
        password: z.string().optional().describe('Basic auth password'),
        apiKey: z
          .string()
          .optional()
          .describe('API key ("ApiKey <base64>" header); not testable here (no secured node)'),
        naming: z
          .enum(['daily', 'data-stream'])
          .default('daily')
          .describe(
            '"daily": indices <indexPrefix>-YYYY.MM.DD (UTC); "data-stream": create into dataStream (ES 7.9+ with data streams; untested here)',
          ),
        indexPrefix: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_.-]*$/)
          .default('gantry-logs')
          .describe('Daily index prefix of ordinary lines'),
        auditIndexPrefix: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_.-]*$/)
          .default('gantry-audit')
          .describe('Daily index prefix of audit entries (their own index)'),
        dataStream: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_.-]*$/)
          .default('logs-gantry-default')
          .describe('Data stream of ordinary lines (naming "data-stream")'),
        auditDataStream: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_.-]*$/)
          .default('logs-gantry.audit-default')
          .describe('Data stream of audit entries (naming "data-stream")'),
        installTemplate: z
          .boolean()
          .default(true)
          .describe(
            'Install the index template (PUT _index_template) at start, and retry before bulks until it succeeds',
          ),
        batchSize: z.number().int().min(1).max(10_000).default(500).describe('Lines per _bulk request'),
        flushIntervalMs: z
          .number()
          .int()
          .min(10)
          .max(60_000)
          .default(1_000)
          .describe('Longest wait before a partial batch is sent'),
        bufferSize: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(10_000)
          .describe(
            'Lines held while Elasticsearch is unreachable or slow; past it the OLDEST are dropped and counted',
          ),
        requestTimeoutMs: z.number().int().min(100).max(120_000).default(5_000).describe('Limit of one _bulk request'),
        ...backoff,
        minBackoffMs: backoff.minBackoffMs.default(500),
      })
      .strict()
      .prefault({})
      .describe('The direct Elasticsearch transport (_bulk over HTTP)'),
  })
  .strict();

/** Validated options of the `elk-logger` plugin. */
export type ElkLoggerConfig = z.output<typeof elkLoggerConfigSchema>;
