import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { ZodType } from 'zod';
import type { RequestContext } from './context.js';
import { token } from './token.js';

/** HTTP methods a route may declare. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

/** What a handler receives: validated input plus the request context. */
export interface RouteRequest<P = unknown, Q = unknown, B = unknown> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly headers: IncomingHttpHeaders;
  readonly method: string;
  readonly path: string;
  readonly ip: string | undefined;
  readonly context: RequestContext;
  /**
   * The request as Node and the http plugin hand it: Node's `IncomingMessage` with express's request
   * members (`ip`, `host`, `path`, `query`, `params`, `body`...) on either engine (express or fastify).
   */
  readonly raw: IncomingMessage;
}

/** Lets a handler set status and headers; the return value is the body. */
export interface RouteReply {
  status(code: number): RouteReply;
  header(name: string, value: string | readonly string[]): RouteReply;
  /** Sets the content type; a string or Buffer returned by the handler is then sent as is. */
  type(contentType: string): RouteReply;
  /** The adapter's native response; a handler that writes to it itself must return `undefined`. */
  readonly raw: ServerResponse;
}

/** Input schemas of a route, compiled once at boot. */
export interface RouteSchema<P = unknown, Q = unknown, B = unknown> {
  readonly params?: ZodType<P>;
  readonly query?: ZodType<Q>;
  readonly body?: ZodType<B>;
  /** Documents the success body (OpenAPI); not enforced at run time. */
  readonly response?: ZodType<unknown>;
}

/**
 * Node-level middleware (express-compatible signature). The http plugin runs it with express's
 * semantics on either engine, and its request and response carry express's members (`req.ip`,
 * `req.body`, `res.status()`, `res.append()`...), so express ecosystem middleware runs unchanged.
 */
export type HttpMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** A route declaration. */
export interface RouteOptions<P = unknown, Q = unknown, B = unknown> {
  readonly method: HttpMethod;
  /** Path template, express syntax (`/notes/:id`). Prefixed by the API base path unless `root`. */
  readonly path: string;
  /** Mount at the server root instead of under the base path (e.g. `/metrics`). */
  readonly root?: boolean;
  readonly schema?: RouteSchema<P, Q, B>;
  /** Success status when the handler returns a body (default 200; 204 when it returns undefined). */
  readonly status?: number;
  readonly summary?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  /** Route-level native middleware run after validation context is set up, before the handler. */
  readonly middleware?: readonly HttpMiddleware[];
  /** Free metadata for other plugins (e.g. `{ permission: 'users:write' }`, `{ public: true }`). */
  readonly meta?: Readonly<Record<string, unknown>>;
  readonly handler: (req: RouteRequest<P, Q, B>, reply: RouteReply) => unknown;
}

/** A registered route, as other plugins (metrics, openapi, rbac) see it. */
export interface RouteInfo {
  readonly method: HttpMethod;
  /** The full path template, base path included. */
  readonly path: string;
  /** Mounted at the server root (not under the base path), e.g. `/healthz`, `/metrics`. */
  readonly root: boolean;
  readonly plugin: string;
  readonly summary?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly schema?: RouteSchema;
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * Whether a route needs an authenticated caller: `meta.auth` (`true`, `'bearer'` or `'session'`: which
 * credentials it accepts) or a `meta.permission` (which implies authentication). `meta.public: true`
 * and root routes never do. Authenticator plugins (auth-jwt, sessions-redis) set the principal; the
 * HTTP layer answers 401 when none did.
 */
export function requiresAuthentication(route: Pick<RouteInfo, 'root' | 'meta'>): boolean {
  if (route.root || route.meta.public === true) return false;
  const auth = route.meta.auth;
  if (auth === 'optional') return false;
  return (auth !== undefined && auth !== false) || route.meta.permission !== undefined;
}

/**
 * Whether a route accepts a credential of this kind (`meta.auth: true` or a permission alone accepts every
 * kind). `meta.auth: 'optional'` (with `meta.public: true`) accepts every kind without requiring one: the
 * authenticators run (a bad credential is still refused) and the handler decides per operation, as
 * GraphQL does per field.
 */
export function acceptsCredential(route: Pick<RouteInfo, 'root' | 'meta'>, kind: 'bearer' | 'session'): boolean {
  if (route.meta.auth === 'optional') return true;
  if (!requiresAuthentication(route)) return false;
  const auth = route.meta.auth;
  return auth === undefined || auth === true || auth === kind;
}

/** What a route hook can declare it enforces, so a route that needs it and has no enforcer refuses the boot. */
export type RouteGuardKind = 'authentication' | 'permission';

/** Options of {@link HttpRouter.onRoute}. */
export interface RouteHookOptions {
  readonly name?: string;
  /** Lower runs first (default 100). Rate limits 10, authenticators 50-59, the built-in "authenticated?" check 90, permissions 100. */
  readonly order?: number;
  readonly stage?: 'before-body' | 'after-body';
  /** What this hook enforces: a route needing authentication (or a permission) with no such hook refuses the boot. */
  readonly enforces?: readonly RouteGuardKind[];
}

/** Decides per route, at boot, which middleware guards it (see {@link HttpRouter.onRoute}). */
export type RouteHook = (route: RouteInfo) => HttpMiddleware | readonly HttpMiddleware[] | undefined;

/** What the HTTP layer reports once per finished response. */
export interface ResponseInfo {
  readonly method: string;
  /** The matched route template, or `<unmatched>`: never the raw path. */
  readonly route: string;
  /** The status code the response had set; only what the client received when `outcome` is `completed`. */
  readonly status: number;
  /**
   * `completed` when the server ended the response (`res.end()`); `aborted` when the connection closed
   * before that (the client gave up, or the socket died mid-stream), so the client never got it in full.
   */
  readonly outcome: 'completed' | 'aborted';
  readonly durationSeconds: number;
}

type Shorthand = <P = unknown, Q = unknown, B = unknown>(
  path: string,
  options: Omit<RouteOptions<P, Q, B>, 'method' | 'path' | 'handler'>,
  handler: RouteOptions<P, Q, B>['handler'],
) => void;

/**
 * The HTTP transport a plugin sees: register routes and middleware. `@gantry/http` implements it on
 * express 5 or fastify 5; the interface is narrow so another adapter can implement it without touching plugins.
 */
export interface HttpRouter {
  route<P, Q, B>(options: RouteOptions<P, Q, B>): void;
  get: Shorthand;
  post: Shorthand;
  put: Shorthand;
  patch: Shorthand;
  delete: Shorthand;
  /** Adds native middleware before all routes; `order` sorts (lower first, default 100). */
  use(middleware: HttpMiddleware, options?: { name?: string; order?: number }): void;
  /** Called once per finished response (metrics, access logs). */
  onResponse(listener: (info: ResponseInfo) => void): void;
  /**
   * Called once per route (every plugin's) when the server is built, after all plugins registered.
   * It may return middleware to run on that route before its body is parsed (stage `before-body`,
   * the default) or after it is parsed and before input validation (`after-body`, e.g. keys that
   * need a body field), and before its handler runs
   * (authentication, permission checks, rate limits chosen from `route.meta`), or throw a
   * GantryError to refuse the whole setup at boot (e.g. a protected route with no declaration).
   */
  onRoute(hook: RouteHook, options?: RouteHookOptions): void;
  /** Every route registered so far. */
  routes(): readonly RouteInfo[];
}

/** The HTTP transport as the kernel sees it: hands each plugin a router that knows its owner. */
export interface HttpTransport {
  routerFor(plugin: string): HttpRouter;
  /** Every route registered so far, of every plugin (tools such as `gantry routes`). */
  routes(): readonly RouteInfo[];
}

/** Token of the HTTP transport (bound by the `http` plugin). */
export const HttpTransportToken = token<HttpTransport>('gantry.core.HttpTransport');
