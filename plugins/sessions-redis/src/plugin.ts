import { randomBytes } from 'node:crypto';
import { definePlugin, KernelInfoToken, packageVersion } from '@gantry/core';
import { AuditTrail } from './audit-trail.js';
import { sessionsConfigSchema } from './config.js';
import { CsrfTokens } from './csrf.js';
import { SessionsErrors } from './errors.js';
import { OriginPolicy } from './origin-policy.js';
import { AuditToken, RedisToken } from './peer-tokens.js';
import { RedisSessionStore } from './redis-session-store.js';
import { registerRoutes } from './routes.js';
import { sessionHook } from './session-guard.js';
import { MemorySessionStore, type SessionStore } from './session-store.js';
import { SessionService } from './sessions.js';
import { SessionsToken } from './tokens.js';

/** The `sessions-redis` plugin: cookie sessions for browsers (memory or Redis), CSRF protection, and the per-user session registry. */
export const plugin = definePlugin({
  name: 'sessions-redis',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'Cookie sessions for browser clients in Redis (__Host- cookie, new id at sign-in, idle and absolute timeouts) with CSRF protection (csrf-csrf, Fetch Metadata, Origin)',
  dependsOn: ['http'],
  optionalDependsOn: ['redis', 'audit'],
  provides: [SessionsToken],
  config: sessionsConfigSchema,
  validate(config, { profile, plugins }) {
    const problems = [];
    if (config.csrfSecret === undefined && profile !== 'embedded') {
      problems.push(
        SessionsErrors.CSRF_SECRET_REQUIRED(
          `no csrfSecret in profile "${profile}": only the embedded profile generates one`,
        ),
      );
    }
    if ((config.store ?? (profile === 'embedded' ? 'memory' : 'redis')) === 'redis' && !plugins.includes('redis')) {
      problems.push(
        SessionsErrors.REDIS_REQUIRED(
          'sessions are kept in Redis (the redis store) but the "redis" plugin is not enabled',
        ),
      );
    }
    return problems;
  },
  register(ctx) {
    const { config } = ctx;
    const enabled = ctx.container.get(KernelInfoToken).plugins;
    const storeKind = config.store ?? (ctx.profile === 'embedded' ? 'memory' : 'redis');

    // Optional peers' tokens are declared by name (peer-tokens.ts): an app without those plugins need not install them.
    let store: SessionStore;
    if (storeKind === 'redis') {
      store = new RedisSessionStore(ctx.container.get(RedisToken), config.prefix);
    } else store = new MemorySessionStore();
    const audit = new AuditTrail(enabled.includes('audit') ? ctx.container.tryGet(AuditToken) : undefined, ctx.logger);

    const secrets =
      config.csrfSecret === undefined ? [randomBytes(32).toString('base64url')] : [config.csrfSecret].flat();
    if (config.csrfSecret === undefined) {
      ctx.logger.warn(
        'sessions-redis generated a CSRF secret for this process: CSRF tokens fail on other instances and after a restart (set "csrfSecret" to keep them valid)',
      );
    }

    const csrf = new CsrfTokens({
      cookieName: config.csrfCookieName,
      attributes: { sameSite: config.sameSite },
      secrets,
    });
    const origins = new OriginPolicy(config.allowedOrigins);
    const sessions = new SessionService({ config, store, csrf, origins });
    ctx.provide(SessionsToken, sessions);

    // Order 55: after rate limits (10) and auth-jwt (50, which sets the principal of bearer requests first),
    // before the HTTP layer's 401 (90) and permission checks (rbac, 100).
    ctx.http.onRoute(sessionHook({ sessions, origins, cookieName: config.cookieName, audit }), {
      name: 'sessions-redis',
      order: 55,
      enforces: ['authentication'],
    });
    registerRoutes(ctx.http, { sessions, audit });

    ctx.lifecycle.hook({ name: 'store', stop: () => store.close() });
    ctx.health.check(
      async () =>
        (await store.ping())
          ? { status: 'up', details: { store: storeKind } }
          : { status: 'down', details: { store: storeKind, error: 'unreachable' } },
      {
        critical: storeKind === 'redis',
        timeoutMs: 3_000,
      },
    );
  },
});
