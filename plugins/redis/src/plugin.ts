import { definePlugin, packageVersion } from '@gantry/core';
import { redisConfigSchema } from './config.js';
import { RedisConnection } from './connection.js';
import { RedisToken } from './tokens.js';

/** The `redis` plugin: one ioredis connection per kernel, shared by every plugin that keeps state in Redis. */
export const plugin = definePlugin({
  name: 'redis',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'One shared Redis connection (ioredis): no offline queue, bounded commands, 503 on outage, reconnects without a restart',
  provides: [RedisToken],
  config: redisConfigSchema,
  register(ctx) {
    const connection = new RedisConnection({
      url: ctx.config.url,
      commandTimeoutMs: ctx.config.commandTimeoutMs,
      connectTimeoutMs: ctx.config.connectTimeoutMs,
      logger: ctx.logger,
    });
    ctx.provide(RedisToken, connection);
    ctx.lifecycle.hook({
      name: 'connect',
      start: () => connection.open(),
      stop: () => connection.close(),
      timeoutMs: ctx.config.connectTimeoutMs + 2_000,
    });
    // Not critical: reported as degraded, so the instance stays in rotation (the plugins using Redis decide).
    const outage = ctx.config.critical ? 'down' : 'degraded';
    ctx.health.check(
      async () => {
        const ping = await connection.ping();
        return ping.ok ? { status: 'up' } : { status: outage, details: { code: ping.code } };
      },
      { critical: ctx.config.critical, timeoutMs: ctx.config.commandTimeoutMs + 1_000 },
    );
  },
});
