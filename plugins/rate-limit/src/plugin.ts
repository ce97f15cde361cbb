import { definePlugin, KernelInfoToken } from '@gantry/core';
import { rateLimitConfigSchema } from './config.js';
import { NO_METRICS, registerRateLimitMetrics } from './metrics.js';
import { PolicyLimiters, resolvePolicies, type StoreKind } from './rate-limits.js';
import { RedisConnection } from './redis-connection.js';
import { RateLimitsToken } from './tokens.js';

/** The `rate-limit` plugin: per-route policies chosen by `meta.rateLimit`, counted in memory or in Redis shared by every instance. */
export const plugin = definePlugin({
  name: 'rate-limit',
  version: '0.1.0',
  kernel: '^0.1.0',
  description: 'Per-route rate limits (express-rate-limit) counted in memory or in Redis shared by every instance, with RFC RateLimit headers',
  dependsOn: ['http'],
  optionalDependsOn: ['metrics'],
  provides: [RateLimitsToken],
  config: rateLimitConfigSchema,
  async register(ctx) {
    const { config } = ctx;
    // The embedded profile runs without services; every other profile runs several instances that must share counts.
    const store: StoreKind = config.store ?? (ctx.profile === 'embedded' ? 'memory' : 'redis');
    const connection = store === 'redis' ? new RedisConnection({ url: config.redisUrl, commandTimeoutMs: config.commandTimeoutMs, logger: ctx.logger }) : undefined;
    const metrics = ctx.container.get(KernelInfoToken).plugins.includes('metrics')
      ? await registerRateLimitMetrics({ container: ctx.container, logger: ctx.logger, pluginName: ctx.name, policies: resolvePolicies(config).map((p) => p.name) })
      : NO_METRICS;

    // Every limiter is built now, once (no I/O: stores record their window, Redis waits for start).
    const limits = new PolicyLimiters({ config, store, connection, logger: ctx.logger, metrics });
    ctx.provide(RateLimitsToken, limits);

    // Run when the HTTP server is built, once per route. Per IP before the body is parsed, order 10:
    // before authentication guards (default 100), so floods are refused before any token is verified,
    // password hashed or body parsed.
    ctx.http.onRoute((route) => limits.guardFor(route), { name: 'rate-limit', order: 10 });
    // Per account (`ip+body.<field>` policies): after the HTTP layer parsed the body, before validation
    // and the handler. An IP over its limit, or a body the HTTP layer refused, never gets here.
    ctx.http.onRoute((route) => limits.accountGuardFor(route), { name: 'rate-limit.account', order: 10, stage: 'after-body' });

    ctx.lifecycle.hook({
      name: 'store',
      start: async () => {
        limits.open();
        await connection?.open();
      },
      stop: async () => {
        await connection?.close();
        limits.close();
      },
    });

    // Critical only when the default policy fails closed: then most routes answer 503 without Redis.
    // Otherwise the API keeps serving, and taking every instance (they share the Redis) out of rotation
    // would turn a rate-limit outage into a full one.
    const failClosed = limits.policies().filter((p) => !p.failOpen).map((p) => p.name);
    const critical = store === 'redis' && failClosed.includes('default');
    ctx.health.check(
      async () => {
        if (!connection) return { status: 'up', details: { store } };
        const ping = await connection.ping();
        if (ping.ok) return { status: 'up', details: { store } };
        return { status: critical ? 'down' : 'degraded', details: { store, error: ping.code ?? 'unreachable', failClosed } };
      },
      { critical, timeoutMs: config.commandTimeoutMs + 1_000 },
    );
  },
});
