import { definePlugin, packageVersion, requiresAuthentication } from '@gantry/core';
import { DatabaseToken } from '@gantry/plugin-database';
import { z } from 'zod';
import { rbacConfigSchema } from './config.js';
import { PermissionEntity, rbacMigrations, RoleEntity, RolePermissionEntity, SubjectRoleEntity } from './entity.js';
import { RbacErrors } from './errors.js';
import { AuditToken, EventsToken, RedisToken } from './peer-tokens.js';
import { declaredPermissions, requires } from './permissions.js';
import { RbacService } from './rbac.js';
import { roleRoutes } from './routes.js';
import { RbacToken } from './tokens.js';

/** `rbac.role-changed`, published through kafka-events' outbox (when enabled) with the change, keyed by the subject. */
export const RoleChanged = {
  type: 'rbac.role-changed',
  version: 1,
  data: z.object({ subjectId: z.string(), roles: z.array(z.string()), previous: z.array(z.string()) }).strict(),
} as const;

/** The `rbac` plugin: roles and permissions in the database; every protected route declares what it needs, checked at boot. */
export const plugin = definePlugin({
  name: 'rbac',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'Roles and permissions stored in the database; route permission declarations checked at boot and enforced per request (403)',
  dependsOn: ['http', 'database'],
  optionalDependsOn: ['audit', 'redis', 'kafka-events'],
  requires: [DatabaseToken],
  provides: [RbacToken],
  config: rbacConfigSchema,
  register(ctx) {
    const db = ctx.container.get(DatabaseToken);
    db.registerEntities([RoleEntity, PermissionEntity, RolePermissionEntity, SubjectRoleEntity]);
    db.registerMigrations('rbac', rbacMigrations);
    const redis = ctx.container.tryGet(RedisToken);
    const events = ctx.container.tryGet(EventsToken);
    events?.define(RoleChanged);
    const channel = ctx.config.changesChannel;
    const rbac = new RbacService({
      db,
      config: ctx.config,
      logger: ctx.logger,
      ...(redis ? { announce: (message: string) => redis.publish(channel, message) } : {}),
      ...(events
        ? { roleChanged: (change, em) => events.publish(RoleChanged.type, change, { key: change.subjectId, em }) }
        : {}),
    });
    ctx.provide(RbacToken, rbac);
    const audit = ctx.container.tryGet(AuditToken);
    const onDenied = async (permission: string): Promise<void> => {
      await audit?.record({ action: 'authz.denied', outcome: 'denied', details: { permission } });
    };

    // Order 100: after rate limits (10), authenticators (50-59) and the HTTP layer's 401 (90).
    ctx.http.onRoute(
      (route) => {
        if (!requiresAuthentication(route)) return undefined;
        const declared = route.meta.permission;
        if (declared === undefined) {
          throw RbacErrors.UNDECLARED(
            `${route.method} ${route.path} (plugin "${route.plugin}") requires a signed-in caller but declares no permission: add meta.permission (requires('<resource>:<action>'), or "authenticated" for any signed-in caller)`,
          );
        }
        const needed = declaredPermissions(declared);
        if (!needed)
          throw RbacErrors.INVALID_PERMISSION(
            `${route.method} ${route.path} (plugin "${route.plugin}") declares permission ${JSON.stringify(declared)}: expected "<resource>:<action>", a non-empty list of them, or "authenticated"`,
          );
        rbac.declare(needed);
        return needed.length ? rbac.guard(needed, onDenied) : undefined;
      },
      { name: 'rbac', order: 100, enforces: ['permission'] },
    );

    ctx.http.get(
      '/roles',
      { summary: 'Every role and the permissions it grants', tags: ['rbac'], meta: { ...requires('roles:read') } },
      async () => ({ roles: await rbac.listRoles() }),
    );
    roleRoutes(ctx.http, rbac, (input) => audit?.record(input));

    ctx.lifecycle.hook({ name: 'seed-roles', start: () => rbac.seed() });
    if (redis) {
      let unsubscribe: (() => Promise<void>) | undefined;
      ctx.lifecycle.hook({
        name: 'changes',
        start: async () => {
          unsubscribe = await redis.subscribe(channel, (message) => {
            rbac
              .received(message)
              .catch((err: unknown) =>
                ctx.logger.warn({ err }, 'rbac: could not apply a change announced by another instance'),
              );
          });
        },
        stop: () => unsubscribe?.(),
      });
    }
    ctx.health.check(
      () =>
        rbac.isSeeded()
          ? { status: 'up', details: { permissions: rbac.knownPermissions().length } }
          : { status: 'down', details: { error: 'roles not seeded yet' } },
      { critical: false },
    );
  },
});
