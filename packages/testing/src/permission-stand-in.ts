import {
  CoreErrors,
  currentContext,
  definePlugin,
  requiresAuthentication,
  type Plugin,
  type Principal,
} from '@gantry/core';

/**
 * A test stand-in for rbac, for plugins that must not depend on it: enforces every route's
 * `meta.permission` (a string) at order 100, granting it when `grants(principal, permission)` says so,
 * else 403 GANTRY_CORE_FORBIDDEN. A route declaring a permission is then guarded as the HTTP layer
 * requires, without the database rbac needs.
 */
export function permissionStandIn(grants: (principal: Principal, permission: string) => boolean): Plugin {
  return definePlugin({
    name: 'test-permissions',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http'],
    register(ctx) {
      ctx.http.onRoute(
        (route) => {
          const needed = route.meta.permission;
          if (!requiresAuthentication(route) || typeof needed !== 'string') return undefined;
          return (_req, _res, next) => {
            const principal = currentContext()?.principal;
            next(
              principal !== undefined && grants(principal, needed)
                ? undefined
                : CoreErrors.FORBIDDEN(`test stand-in: permission "${needed}" not granted`),
            );
          };
        },
        { name: 'test-permissions', order: 100, enforces: ['permission'] },
      );
    },
  });
}
