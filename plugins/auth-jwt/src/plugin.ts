import { definePlugin, KernelInfoToken, packageVersion, type Container } from '@gantry/core';
import type { RedisConnection } from '@gantry/plugin-redis';
import { bearerHook } from './bearer-guard.js';
import { authJwtConfigSchema } from './config.js';
import { AuthJwtErrors } from './errors.js';
import { KeyRing } from './key-ring.js';
import { RedisToken } from './peer-tokens.js';
import { RedisTokenStore } from './redis-token-store.js';
import { TokenService } from './token-service.js';
import { MemoryTokenStore, type TokenStore } from './token-store.js';
import { AuthJwtToken } from './tokens.js';

/** The `auth-jwt` plugin: token service (access + rotating refresh tokens), JWKS endpoint and bearer authentication of routes. */
export const plugin = definePlugin({
  name: 'auth-jwt',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'JWT access and refresh tokens (jose): pinned algorithm, key rotation with a JWKS endpoint, refresh rotation with reuse detection, revocation shared through Redis',
  dependsOn: ['http'],
  // The redis store sends its commands through the redis plugin's shared connection.
  optionalDependsOn: ['redis'],
  provides: [AuthJwtToken],
  config: authJwtConfigSchema,
  // A new key ring (rotation, retirement, removal) is taken hot: the verified-token cache drops the
  // entries of removed keys at once. Any other option needs a restart of the process.
  async onConfigChange(_prev, next, ctx) {
    if (!ctx.changed.every((path) => path === 'keys' || path.startsWith('keys.'))) return 'reject';
    if (!next.keys) return 'reject';
    const ring = await KeyRing.load(next.algorithm, next.keys);
    ctx.container.get(AuthJwtToken).useKeyRing(ring);
    ctx.logger.info({ kids: ring.kids() }, 'auth-jwt key ring replaced');
    return 'applied';
  },
  validate(config, { profile, plugins }) {
    const problems = [];
    const store = config.store ?? (profile === 'embedded' ? 'memory' : 'redis');
    if (store === 'redis' && !plugins.includes('redis')) {
      const why = config.store ? 'store "redis"' : `the default store of profile "${profile}"`;
      problems.push(
        AuthJwtErrors.REDIS_REQUIRED(`tokens are kept in Redis (${why}) but the "redis" plugin is not enabled`),
      );
    }
    if (!config.keys && profile !== 'embedded')
      problems.push(
        AuthJwtErrors.KEYS_REQUIRED(
          `no keys in profile "${profile}": only the embedded profile generates ephemeral keys`,
        ),
      );
    return problems;
  },
  register(ctx) {
    const { config } = ctx;
    // The embedded profile runs without services; every other profile runs several instances that must share revocations.
    const storeKind = config.store ?? (ctx.profile === 'embedded' ? 'memory' : 'redis');
    const connection =
      storeKind === 'redis'
        ? sharedRedis(ctx.container, config.store ? 'store "redis"' : `the default store of profile "${ctx.profile}"`)
        : undefined;
    const store: TokenStore = connection
      ? new RedisTokenStore({
          connection,
          prefix: config.prefix,
          revocationCache: config.revocationCache.enabled ? config.revocationCache : undefined,
        })
      : new MemoryTokenStore();

    // Keys are imported once, in start (crypto import is async I/O-like work); until then nothing is served.
    const service = new TokenService({ config, store });
    ctx.provide(AuthJwtToken, service);

    ctx.lifecycle.hook({
      name: 'keys-and-store',
      start: async () => {
        await store.open?.();
        if (config.keys) service.useKeyRing(await KeyRing.load(config.algorithm, config.keys));
        else {
          const ring = await KeyRing.generate(config.algorithm);
          service.useKeyRing(ring);
          ctx.logger.warn(
            { kid: ring.signing.kid },
            'auth-jwt generated an ephemeral signing key: every token dies with this process (set "keys" to keep them valid across restarts and instances)',
          );
        }
      },
      stop: async () => {
        await store.close();
      },
    });

    ctx.http.get(
      '/.well-known/jwks.json',
      { root: true, summary: 'Public keys that verify issued tokens (JWKS)', tags: ['auth'], meta: { public: true } },
      (_req, reply) => {
        // Caches may keep it 5 minutes: a new key is published before it signs (append it, it signs only when last).
        reply
          .header('Cache-Control', 'public, max-age=300, stale-while-revalidate=60')
          .type('application/jwk-set+json');
        return service.jwks();
      },
    );

    // Order 50: after rate limits (10), before permission checks (rbac, default 100), which need the principal.
    ctx.http.onRoute(
      bearerHook(() => service),
      { name: 'auth-jwt', order: 50, enforces: ['authentication'] },
    );

    ctx.health.check(
      async () => {
        const ring = service.started ? service.keys() : undefined;
        if (!ring) return { status: 'down', details: { store: storeKind, error: 'not started' } };
        const ok = await store.ping();
        // With the revocation cache: whether Redis is pushing changes (else every lookup reads Redis).
        const cache = service.revocationCacheStats();
        const revocationCache = cache === undefined ? {} : { revocationCache: cache.live ? 'live' : 'bypassed' };
        return ok
          ? { status: 'up', details: { store: storeKind, kid: ring.signing.kid, ...revocationCache } }
          : { status: 'down', details: { store: storeKind, error: 'unreachable' } };
      },
      { critical: true, timeoutMs: (connection?.commandTimeoutMs ?? 1_000) + 1_000 },
    );
  },
});

/**
 * The redis plugin's shared connection. `@gantry/plugin-redis` is an optional peer dependency whose
 * token is declared by name: applications on the memory store never load it (nor ioredis).
 */
function sharedRedis(container: Container, why: string): RedisConnection {
  if (!container.get(KernelInfoToken).plugins.includes('redis')) {
    throw AuthJwtErrors.REDIS_REQUIRED(
      `plugin "auth-jwt" keeps its tokens in Redis (${why}) but the "redis" plugin is not enabled`,
    );
  }
  return container.get(RedisToken);
}
