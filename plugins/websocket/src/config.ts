import { z } from 'zod';

/** Options of the `websocket` plugin (config key `websocket`, env `GANTRY_WEBSOCKET__<KEY>`). */
export const websocketConfigSchema = z
  .object({
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be a path such as /ws')
      .default('/ws')
      .describe('Path of the WebSocket endpoint, at the server root'),
    allowedOrigins: z
      .array(z.url())
      .default([])
      .describe(
        'Origins whose pages may connect with the session cookie (cross-site WebSocket hijacking defence); bearer-token connections are not restricted',
      ),
    anonymous: z
      .boolean()
      .default(false)
      .describe('Keep connections without credentials open (they may subscribe to "public" channels only)'),
    firstMessageAuth: z
      .boolean()
      .default(true)
      .describe('Accept a connection without credentials and wait for {"type":"auth","token"} within authTimeoutMs'),
    authTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(5_000)
      .describe('How long a connection may stay unauthenticated before it is closed with 4401'),
    maxPayloadBytes: z
      .number()
      .int()
      .min(64)
      .max(16 * 1024 * 1024)
      .default(64 * 1024)
      .describe('Largest message a client may send; a larger one closes the connection with 1009'),
    messagesPerSecond: z
      .number()
      .min(0.1)
      .max(10_000)
      .default(20)
      .describe('Sustained messages per second a connection may send (token bucket)'),
    burst: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(40)
      .describe('Messages a connection may send at once above the sustained rate'),
    maxRateViolations: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(20)
      .describe('Messages refused for rate in a row before the connection is closed with 1008'),
    maxBufferedBytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(1024 * 1024)
      .describe('Bytes a slow client may have queued on the server; past it a message is dropped or the client closed'),
    slowConsumer: z
      .enum(['drop', 'close'])
      .default('drop')
      .describe('What happens when a client is over maxBufferedBytes: drop the message (counted) or close with 1013'),
    rateLimit: z
      .union([z.literal(false), z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'a rate-limit policy name')])
      .default('default')
      .describe(
        'Rate-limit policy every upgrade is counted under, per client IP, before its credential is checked (when the rate-limit plugin is enabled); false exempts upgrades',
      ),
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe('Open connections this instance accepts; past it an upgrade is refused with 503'),
    maxSubscriptions: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(100)
      .describe('Channels one connection may subscribe to'),
    heartbeatMs: z
      .number()
      .int()
      .min(50)
      .max(600_000)
      .default(30_000)
      .describe('Ping interval; a peer that did not answer the previous ping is terminated'),
    revalidate: z
      .boolean()
      .default(true)
      .describe(
        'At each heartbeat, verify the bearer token of every connection again (revocation, logout), and that the session of every cookie connection is still live: a refused one is closed with 4401',
      ),
    drainTimeoutMs: z
      .number()
      .int()
      .min(0)
      .max(120_000)
      .default(5_000)
      .describe('At shutdown, how long clients get to answer the 1001 close before they are cut'),
    fanout: z
      .enum(['auto', 'redis', 'memory'])
      .default('auto')
      .describe(
        'Delivery across instances: Redis pub/sub ("auto" when the redis plugin is enabled), or this process only',
      ),
    redisChannel: z
      .string()
      .min(1)
      .max(200)
      .default('gantry:websocket')
      .describe('Redis pub/sub channel the instances share for fan-out'),
    forward: z
      .array(
        z
          .object({
            topic: z.string().min(1).describe('Event bus topic'),
            channel: z
              .string()
              .min(1)
              .describe('Channel to push to; "{key}" and "{payload.<field>}" are replaced from the event'),
          })
          .strict(),
      )
      .default([])
      .describe(
        'Events of the kernel event bus pushed to channels, e.g. {topic:"notes.created",channel:"user:{payload.ownerId}"}',
      ),
  })
  .strict();

/** Validated options of the `websocket` plugin. */
export type WebsocketConfig = z.output<typeof websocketConfigSchema>;
