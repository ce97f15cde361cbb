import type { RouteInfo } from '@gantry/core';
import { loadCore, type AppOptions } from '../app-core.js';
import { columns } from '../format.js';
import { say, type CliIo } from '../io.js';

/** One route as `gantry routes` reports it. */
export interface RouteReport {
  readonly method: string;
  readonly path: string;
  readonly plugin: string;
  /** `public`, `authenticated`, `authenticated (bearer)`, `permission users:read`, or `undeclared`. */
  readonly auth: string;
  /** The rate-limit policy: its name, `default`, `exempt`, or `off` (no rate-limit plugin). */
  readonly rateLimit: string;
}

/** Who may call a route, from its metadata (as the http, auth and rbac plugins read it). */
export function routeAuth(route: Pick<RouteInfo, 'root' | 'meta'>): string {
  const { meta } = route;
  if (route.root || meta.public === true) return 'public';
  const kind = meta.auth === 'bearer' || meta.auth === 'session' ? ` (${meta.auth})` : '';
  const permission = meta.permission;
  if (permission === 'authenticated' || (permission === undefined && meta.auth !== undefined && meta.auth !== false))
    return `authenticated${kind}`;
  if (typeof permission === 'string') return `permission ${permission}${kind}`;
  if (Array.isArray(permission)) return `permission ${permission.join(', ')}${kind}`;
  return 'undeclared';
}

/** The rate-limit policy of a route, as the rate-limit plugin picks it. */
export function routeRateLimit(route: Pick<RouteInfo, 'root' | 'meta'>, rateLimitEnabled: boolean): string {
  if (!rateLimitEnabled) return 'off';
  const declared = route.meta.rateLimit;
  if (declared === false) return 'exempt';
  if (declared === undefined) return route.root ? 'exempt' : 'default';
  return String(declared);
}

/**
 * `gantry routes`: builds the app's kernel and registers every plugin without starting anything
 * (no socket, no connection), then lists every route with its plugin, access and rate-limit policy.
 */
export async function listRoutes(io: CliIo, options: AppOptions & { json?: boolean }): Promise<number> {
  const core = await loadCore(options.cwd);
  // listen=false on top: even a stray serve hook could not open the port of a running instance.
  const env = { ...options.env, GANTRY_HTTP__LISTEN: 'false' };
  const kernel = await core.createKernel({
    appDir: options.cwd,
    profile: options.profile,
    env,
    logger: core.silentLogger(),
  });
  let routes: readonly RouteInfo[];
  try {
    await kernel.register();
    routes = kernel.container.tryGet(core.HttpTransportToken)?.routes() ?? [];
  } finally {
    await kernel.stop();
  }
  const rateLimitEnabled = kernel.pluginNames.includes('rate-limit');
  const reports: RouteReport[] = routes.map((r) => ({
    method: r.method,
    path: r.path,
    plugin: r.plugin,
    auth: routeAuth(r),
    rateLimit: routeRateLimit(r, rateLimitEnabled),
  }));
  if (options.json) {
    say(io, JSON.stringify({ profile: kernel.profile, routes: reports }, null, 2));
    return 0;
  }
  if (!kernel.pluginNames.includes('http')) {
    say(io, 'no routes: the http plugin is not enabled (add "http": {} under "plugins")');
    return 0;
  }
  say(
    io,
    ...columns([
      ['METHOD', 'PATH', 'PLUGIN', 'AUTH', 'RATE LIMIT'],
      ...reports.map((r) => [r.method, r.path, r.plugin, r.auth, r.rateLimit]),
    ]),
  );
  say(io, '', `${reports.length} routes (profile ${kernel.profile})`);
  return 0;
}
