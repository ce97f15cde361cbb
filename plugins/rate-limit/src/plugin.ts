import { definePlugin, KernelInfoToken, type Container } from '@gantry/core';
import type { RedisConnection } from '@gantry/plugin-redis';
import { rateLimitConfigSchema } from './config.js';
import { RateLimitErrors } from './errors.js';
import { NO_METRICS, registerRateLimitMetrics } from './metrics.js';
import { PolicyLimiters, resolvePolicies, type StoreKind } from './rate-limits.js';
import { RateLimitsToken } from './tokens.js';

/** The `rate-limit` plugin: per-route policies chosen by `meta.rateLimit`, counted in memory or in Redis shared by every instance. */
export const plugin = definePlugin({
  name: 'rate-limit',
  version: '0.1.0',
  kernel: '^0.1.0',
  description:
    'Per-route rate limits (express-rate-limit) counted in memory or in Redis shared by every instance, with RFC RateLimit headers',
  dependsOn: ['http'],
  // redis: the redis store counts through the redis plugin's shared connection.
  optionalDependsOn: ['metrics', 'redis'],
  provides: [RateLimitsToken],
  config: rateLimitConfigSchema,
  validate(config, { profile, plugins }) {
    const store = config.store ?? (profile === 'embedded' ? 'memory' : 'redis');
    if (store === 'redis' && !plugins.includes('redis')) {
      const why = config.store ? 'store "redis"' : `the default store of profile "${profile}"`;
      return [
        RateLimitErrors.REDIS_REQUIRED(`counts are kept in Redis (${why}) but the "redis" plugin is not enabled`),
      ];
    }
    return [];
  },
  // Limits change hot (every limiter reads its limit per request); anything else (windows, store,
  // policies, keys) builds limiters and stores in register(): refused, the process must restart.
  onConfigChange(prev, next, ctx) {
    const limits = ctx.container.get(RateLimitsToken);
    return limits instanceof PolicyLimiters && limits.updateLimits(prev, next) ? 'applied' : 'reject';
  },
  async register(ctx) {
    const { config } = ctx;
    // The embedded profile runs without services; every other profile runs several instances that must share counts.
    const store: StoreKind = config.store ?? (ctx.profile === 'embedded' ? 'memory' : 'redis');
    const connection =
      store === 'redis'
        ? await sharedRedis(
            ctx.container,
            config.store ? 'store "redis"' : `the default store of profile "${ctx.profile}"`,
          )
        : undefined;
    const metrics = ctx.container.get(KernelInfoToken).plugins.includes('metrics')
      ? await registerRateLimitMetrics({
          container: ctx.container,
          logger: ctx.logger,
          pluginName: ctx.name,
          policies: resolvePolicies(config).map((p) => p.name),
          delayPolicies: resolvePolicies(config)
            .filter((p) => p.perAccount?.delay)
            .map((p) => p.name),
        })
      : NO_METRICS;

    // Every limiter is built now, once (no I/O: stores record their window, Redis commands wait for requests).
    const limits = new PolicyLimiters({ config, store, connection, logger: ctx.logger, metrics });
    ctx.provide(RateLimitsToken, limits);

    // Run when the HTTP server is built, once per route. Per IP before the body is parsed, order 10:
    // before authentication guards (default 100), so floods are refused before any token is verified,
    // password hashed or body parsed.
    ctx.http.onRoute((route) => limits.guardFor(route), { name: 'rate-limit', order: 10 });
    // Per account and per (account, IP) (`ip+body.<field>` policies), then the progressive delay: after
    // the HTTP layer parsed the body, before validation and the handler. An IP over its limit, or a body
    // the HTTP layer refused, never gets here.
    ctx.http.onRoute((route) => limits.accountGuardFor(route), {
      name: 'rate-limit.account',
      order: 10,
      stage: 'after-body',
    });

    // The Redis connection is the redis plugin's: opened before this hook starts, closed after it stops.
    ctx.lifecycle.hook({ name: 'store', start: () => limits.open(), stop: () => limits.close() });

    // Critical only when the default policy fails closed: then most routes answer 503 without Redis.
    // Otherwise the API keeps serving, and taking every instance (they share the Redis) out of rotation
    // would turn a rate-limit outage into a full one.
    const failClosed = limits
      .policies()
      .filter((p) => !p.failOpen)
      .map((p) => p.name);
    const critical = store === 'redis' && failClosed.includes('default');
    ctx.health.check(
      async () => {
        if (!connection) return { status: 'up', details: { store } };
        const ping = await connection.ping();
        if (ping.ok) return { status: 'up', details: { store } };
        return {
          status: critical ? 'down' : 'degraded',
          details: { store, error: ping.code ?? 'unreachable', failClosed },
        };
      },
      { critical, timeoutMs: (connection?.commandTimeoutMs ?? 1_000) + 1_000 },
    );
  },
});

/**
 * The redis plugin's shared connection. `@gantry/plugin-redis` is an optional peer dependency, loaded
 * only for the redis store: applications on the memory store never load it (nor ioredis).
 */
async function sharedRedis(container: Container, why: string): Promise<RedisConnection> {
  if (!container.get(KernelInfoToken).plugins.includes('redis')) {
    throw RateLimitErrors.REDIS_REQUIRED(
      `plugin "rate-limit" counts in Redis (${why}) but the "redis" plugin is not enabled`,
    );
  }
  const { RedisToken } = await import('@gantry/plugin-redis');
  return container.get(RedisToken);
}
