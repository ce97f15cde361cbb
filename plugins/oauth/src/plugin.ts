import { definePlugin, KernelInfoToken, packageVersion } from '@gantry/core';
import { AuditToken } from '@gantry/plugin-audit';
import { DatabaseToken } from '@gantry/plugin-database';
import { UsersToken } from '@gantry/plugin-users';
import { oauthConfigSchema } from './config.js';
import { OAuthStateEntity, oauthMigrations } from './entity.js';
import { Providers } from './providers.js';
import { CALLBACK_PATH, oauthRoutes } from './routes.js';
import { StateStore } from './state-store.js';

/** The `oauth` plugin: sign-in with Google, Facebook and any OpenID Connect issuer, with state and PKCE, linking accounts by verified email. */
export const plugin = definePlugin({
  name: 'oauth',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'Sign-in with Google, Facebook and any OpenID Connect issuer (passport, openid-client): state bound to the browser and PKCE S256 always, accounts linked by verified email only',
  dependsOn: ['http', 'database', 'audit', 'users'],
  optionalDependsOn: ['sessions-redis'],
  requires: [DatabaseToken, AuditToken, UsersToken],
  config: oauthConfigSchema,
  register(ctx) {
    const { config } = ctx;
    const db = ctx.container.get(DatabaseToken);
    db.registerEntities([OAuthStateEntity]);
    db.registerMigrations('oauth', oauthMigrations);
    const states = new StateStore({ db, ttlSeconds: config.stateTtlSeconds });

    oauthRoutes({
      http: ctx.http,
      providers: () => providers,
      states,
      users: ctx.container.get(UsersToken),
      audit: ctx.container.get(AuditToken),
      config,
      // users opens the cookie session through sessions-redis; without it only tokens can be handed out.
      sessionsEnabled: ctx.container.get(KernelInfoToken).plugins.includes('sessions-redis'),
      logger: ctx.logger,
    });
    // The redirect URI of each provider: the public origin plus the callback route's full path (base path included).
    const callbackPath = ctx.http.routes().find((r) => r.plugin === ctx.name && r.path.endsWith(CALLBACK_PATH))!.path;
    const providers = new Providers({
      config,
      callbackUrl: (name) => `${config.callbackBaseUrl}${callbackPath.replace(':provider', name)}`,
      states,
      logger: ctx.logger,
    });

    ctx.lifecycle.hook({
      name: 'discovery',
      // Only a serving app signs anyone in: a command (db:migrate...) does not read the issuers.
      phase: 'serve',
      // Never fails the boot: an issuer that is down now is logged, reported by readiness and retried on its next sign-in.
      start: () => providers.discoverAll(),
      // Discovery is bounded by timeoutMs; the hook must not be cut first.
      timeoutMs: config.timeoutMs + 1_000,
    });
    ctx.health.check(
      () => {
        const discovery = providers.discoveryStatus();
        const failed = Object.values(discovery).includes('failed');
        return {
          status: failed ? 'degraded' : 'up',
          details: { providers: providers.names(), ...(Object.keys(discovery).length ? { discovery } : {}) },
        };
      },
      { critical: false },
    );
  },
});
