import { z } from 'zod';

/** Options of the `kafka-events` plugin (config key `kafka-events`, env `GANTRY_KAFKA_EVENTS__<KEY>`). */
export const kafkaEventsConfigSchema = z
  .object({
    driver: z
      .enum(['memory', 'kafka'])
      .default('memory')
      .describe('Broker: "memory" (in process, embedded profile and tests) or "kafka" (kafkajs, compose profile)'),
    brokers: z
      .array(z.string().min(1))
      .min(1)
      .default(['127.0.0.1:9092'])
      .describe('Kafka bootstrap brokers as host:port (driver "kafka")'),
    clientId: z.string().min(1).default('gantry').describe('Kafka client id, shown in broker logs and quotas'),
    memoryBroker: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Driver "memory": name of a process-wide in-process broker shared by every kernel giving the same name (several instances in one test); default a broker private to this kernel',
      ),
    source: z
      .string()
      .min(1)
      .optional()
      .describe('CloudEvents `source` attribute of published events (default `/gantry/<app folder name>`)'),
    topicPrefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]*$/)
      .default('')
      .describe('Prefix of every topic name; an event type `users.signed-up` goes to topic `<prefix>users.signed-up`'),
    partitions: z.number().int().min(1).max(1_000).default(3).describe('Partitions of topics the plugin creates'),
    group: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .optional()
      .describe(
        'Consumer group prefix; each handler consumes as group `<group>.<handler name>` (default `gantry.<app folder name>`)',
      ),
    toBus: z
      .array(z.string().regex(/^[a-z0-9]+(?:[.-][a-z0-9]+)*$/))
      .max(100)
      .default([])
      .describe(
        "Event types handed, once consumed, to the kernel's event bus (topic = the type, payload = the data), where websocket and graphql subscriptions pick them up; consumed by one instance, so pushes fan out through those plugins",
      ),
    retry: z
      .object({
        backoffMs: z
          .array(z.number().int().min(0).max(86_400_000))
          .max(10)
          .default([1_000, 10_000, 60_000])
          .describe(
            'Delay before each retry of a failing handler; one retry topic `<topic>.retry.<n>` per entry, then the DLQ `<topic>.dlq` (attempts = entries + 1)',
          ),
        jitter: z
          .number()
          .min(0)
          .max(1)
          .default(0.2)
          .describe('Random spread of each delay, as a fraction (0.2: ±20%)'),
      })
      .strict()
      .default({ backoffMs: [1_000, 10_000, 60_000], jitter: 0.2 })
      .describe('Non-blocking retries of failing handlers through retry topics'),
    handlerTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(30_000)
      .describe('Time a handler has for one event; past it the attempt fails (and is retried)'),
    dedupe: z
      .boolean()
      .default(true)
      .describe(
        'Skip an event id a handler already handled in this process (redeliveries); transactional handlers are deduplicated durably in `gantry_processed_event` regardless',
      ),
    dedupeWindow: z.number().int().min(1).default(10_000).describe('Event ids remembered per handler for `dedupe`'),
    outbox: z
      .boolean()
      .default(true)
      .describe(
        'Publish through the transactional outbox (table `gantry_outbox`) when the database plugin is enabled; false, or without database, publishes straight to the broker',
      ),
    relay: z
      .object({
        enabled: z.boolean().default(true).describe('Run the outbox relay in this instance'),
        intervalMs: z.number().int().min(10).default(500).describe('Pause between outbox polls when it is empty'),
        batchSize: z.number().int().min(1).max(10_000).default(100).describe('Rows claimed per poll'),
        leaseMs: z
          .number()
          .int()
          .min(100)
          .default(30_000)
          .describe(
            'How long the relay lease of an instance lasts (renewed at each poll); a relay that died is taken over after it',
          ),
        sendTimeoutMs: z
          .number()
          .int()
          .positive()
          .default(10_000)
          .describe('Longest wait for the broker to ack a batch'),
      })
      .strict()
      .default({ enabled: true, intervalMs: 500, batchSize: 100, leaseMs: 30_000, sendTimeoutMs: 10_000 })
      .describe('The outbox relay (forwarder): reads committed rows and sends them'),
    pruneAfterMs: z
      .number()
      .int()
      .min(0)
      .default(86_400_000)
      .describe('Sent outbox rows older than this are deleted by the relay (0: at the next prune)'),
    processedRetentionMs: z
      .number()
      .int()
      .min(60_000)
      .default(7 * 86_400_000)
      .describe(
        'How long `gantry_processed_event` remembers an event id a transactional handler applied: a redelivery later than this would apply again',
      ),
    consumers: z
      .boolean()
      .default(true)
      .describe('Start the handlers registered with `events.on` (false: this instance only publishes)'),
  })
  .strict();

/** Validated options of the `kafka-events` plugin. */
export type KafkaEventsConfig = z.output<typeof kafkaEventsConfigSchema>;
