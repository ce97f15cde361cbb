import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  CoreErrors,
  currentContext,
  GantryError,
  findUnsafeStrings,
  hasUnsafeStrings,
  RequestContext,
  requiresAuthentication,
  runWithContext,
  type RouteGuardKind,
  type HttpMethod,
  type HttpMiddleware,
  type HttpRouter,
  type HttpTransport,
  type Logger,
  type ResponseInfo,
  type RouteInfo,
  type RouteOptions,
  type RouteHook,
  type RouteReply,
  type RouteRequest,
} from '@gantry/core';
import cors from 'cors';
import { match } from 'path-to-regexp';
import type { ZodType } from 'zod';
import type { HttpConfig } from './config.js';
import {
  bodyParser,
  type Engine,
  type EnginePlan,
  expressEngine,
  fastifyEngine,
  loadEngine,
  type PlannedRoute,
} from './engines.js';
import { HttpErrors } from './errors.js';
import { type CompatRequest, type CompatResponse, clientAddress, sendJson } from './node-compat.js';
import { PROBLEM_CONTENT_TYPE, toProblem, writeRawProblem } from './problem.js';
import { securityHeaders } from './security.js';

type NextFunction = (err?: unknown) => void;
type Request = CompatRequest;
type Response = CompatResponse;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const UNMATCHED = '<unmatched>';
const kState = Symbol('gantry.http.state');
const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

interface RequestState {
  readonly ctx: RequestContext;
  readonly t0: number;
  readonly server: HttpServer;
  /** Set by the response's 'close' (emitted once; the flag keeps the accounting once whatever happens). */
  closed: boolean;
}

interface StoredRoute extends RouteInfo {
  readonly options: RouteOptions<unknown, unknown, unknown>;
}

interface StoredHook {
  readonly hook: RouteHook;
  readonly name: string;
  readonly plugin: string;
  readonly order: number;
  readonly seq: number;
  readonly stage: 'before-body' | 'after-body';
  readonly enforces: readonly RouteGuardKind[];
}

/** The challenge of the built-in 401: bearer is the credential every client can send. */
const AUTH_CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="api"' } as const;

/**
 * The built-in check after the authenticators (order 90): a route that needs a caller and got none
 * answers 401. Authenticators only act on the credential they recognise and pass otherwise.
 */
const authenticatedHook: StoredHook = {
  name: 'http:authenticated',
  plugin: 'http',
  order: 90,
  seq: -1,
  stage: 'before-body',
  enforces: [],
  hook: (route) => (requiresAuthentication(route) ? requireCaller : undefined),
};

function requireCaller(_req: IncomingMessage, _res: ServerResponse, next: (err?: unknown) => void): void {
  if (currentContext()?.principal) next();
  else
    next(
      HttpErrors.UNAUTHENTICATED(
        'this route needs a signed-in caller: send "Authorization: Bearer <access token>" (or the session cookie where the route accepts it)',
        { headers: AUTH_CHALLENGE },
      ),
    );
}

interface StoredMiddleware {
  readonly fn: HttpMiddleware;
  readonly name: string;
  readonly order: number;
  readonly plugin: string;
  readonly seq: number;
}

/**
 * A registered route as the HTTP layer serves it, for tools that document the API (the `openapi`
 * plugin): the declaration plus what only the built server knows.
 */
export interface RouteDefinition extends RouteInfo {
  /** Status of a successful answer with a body (the declaration's `status`, default 200). */
  readonly status: number;
  /** Whether a JSON body is parsed on this route (POST, PUT, PATCH, DELETE). */
  readonly acceptsBody: boolean;
  /** The route hooks that guard it (e.g. `rate-limit`, `auth-jwt`, `http:authenticated`, `rbac`) and their plugins, in run order. */
  readonly guards: readonly { readonly name: string; readonly plugin: string }[];
}

/**
 * Takes over an HTTP upgrade request (WebSocket) on its path: it owns `socket` from then on and either
 * completes the handshake or answers with `writeRawProblem`. A throw (or rejection) is
 * answered as a problem+json and the socket closed.
 */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void | Promise<void>;

/** One invalid input field, as listed in a 400 problem's `errors`. */
export interface FieldError {
  readonly in: 'params' | 'query' | 'body';
  readonly field: string;
  readonly message: string;
  readonly code: string;
}

/**
 * The {@link HttpTransport} of Gantry, on express 5 or fastify 5 (`http.engine`). Plugins register
 * routes and middleware during register(); the engine is assembled once at start from one shared plan
 * of node-level steps (validators, security headers and the
 * 405 table are built then, never per request), then served.
 */
export class HttpServer implements HttpTransport {
  private readonly routeList: StoredRoute[] = [];
  private readonly middleware: StoredMiddleware[] = [];
  private readonly routeHooks: StoredHook[] = [];
  private readonly upgrades = new Map<string, { readonly plugin: string; readonly handler: UpgradeHandler }>();
  /** Sockets handed to an upgrade handler and still open: cut at the drain deadline like HTTP connections. */
  private readonly upgraded = new Set<Duplex>();
  private definitionList: readonly RouteDefinition[] = [];
  /** @internal */ readonly listeners: ((info: ResponseInfo) => void)[] = [];
  private app: Engine | undefined;
  private server: Server | undefined;
  /** @internal */ draining = false;
  /** @internal */ inFlight = 0;

  constructor(
    private readonly config: HttpConfig,
    private readonly logger: Logger,
    /** True while a plugin's hooks restart for a config change: its routes answer 503 meanwhile. */
    private readonly isRestarting?: (plugin: string) => boolean,
  ) {}

  /** A router bound to one plugin: its routes are reported as that plugin's. */
  routerFor(plugin: string): HttpRouter {
    const route = <P, Q, B>(options: RouteOptions<P, Q, B>): void =>
      this.addRoute(plugin, options as RouteOptions<unknown, unknown, unknown>);
    const shorthand =
      (method: HttpMethod) =>
      (
        path: string,
        options: Omit<RouteOptions, 'method' | 'path' | 'handler'>,
        handler: RouteOptions['handler'],
      ): void =>
        route({ ...options, method, path, handler });
    return {
      route,
      get: shorthand('GET') as HttpRouter['get'],
      post: shorthand('POST') as HttpRouter['post'],
      put: shorthand('PUT') as HttpRouter['put'],
      patch: shorthand('PATCH') as HttpRouter['patch'],
      delete: shorthand('DELETE') as HttpRouter['delete'],
      use: (fn, options = {}) => {
        this.assertOpen(plugin);
        this.middleware.push({
          fn,
          name: options.name ?? fn.name ?? 'anonymous',
          order: options.order ?? 100,
          plugin,
          seq: this.middleware.length,
        });
      },
      onRoute: (hook, options = {}) => {
        this.assertOpen(plugin);
        this.routeHooks.push({
          hook,
          name: options.name ?? hook.name ?? 'anonymous',
          plugin,
          order: options.order ?? 100,
          seq: this.routeHooks.length,
          stage: options.stage ?? 'before-body',
          enforces: options.enforces ?? [],
        });
      },
      onResponse: (listener) => {
        this.listeners.push(listener);
      },
      routes: () => this.routes(),
    };
  }

  /** Every registered route. */
  routes(): readonly RouteInfo[] {
    return this.routeList;
  }

  /**
   * Every route with its success status and the hooks that guard it: read-only, known once the
   * server is built (this builds it, so call it from a start hook, never in register()).
   */
  definitions(): readonly RouteDefinition[] {
    this.build();
    return this.definitionList;
  }

  /**
   * Routes HTTP upgrade requests (`Connection: Upgrade`) whose path (query string aside) is exactly
   * `path` to `handler`, e.g. a WebSocket server. Engine-neutral: the handler receives Node's request,
   * socket and head, as `ws`'s `handleUpgrade` expects. An upgrade on any other path is answered 404,
   * and every upgrade while the server drains 503. Register in register(), like routes.
   */
  onUpgrade(path: string, handler: UpgradeHandler, plugin = 'anonymous'): void {
    this.assertOpen(plugin);
    if (typeof path !== 'string' || !path.startsWith('/'))
      throw HttpErrors.ROUTE_INVALID(`plugin "${plugin}": upgrade path ${JSON.stringify(path)} must start with "/"`);
    const clash = this.upgrades.get(path);
    if (clash)
      throw HttpErrors.ROUTE_CONFLICT(
        `upgrades on ${path} are taken by plugin "${clash.plugin}" and by plugin "${plugin}"`,
      );
    this.upgrades.set(path, { plugin, handler });
  }

  /**
   * The client's address as routes see it in `req.ip` (the `trustProxy` hop count applied), for
   * requests no route serves, e.g. in an upgrade handler: `server.clientIp(req)`.
   */
  clientIp(req: IncomingMessage): string {
    return clientAddress(req, this.config.trustProxy);
  }

  /** The address the server listens on, once listening. */
  address(): AddressInfo | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  /** The request handler (also usable without a socket, e.g. with inject()). Builds the app on first use. */
  handler(): (req: IncomingMessage, res: ServerResponse) => void {
    return this.build().handler;
  }

  /** The engine serving requests (`http.engine`): `express` (default) or `fastify`. */
  get engine(): 'express' | 'fastify' {
    return this.config.engine;
  }

  /** Builds the app and waits until its engine can serve (start hook of the http plugin). */
  async prepare(): Promise<void> {
    if (!this.app) await loadEngine(this.config.engine);
    await this.build().ready;
  }

  /** Number of requests being processed right now. */
  inFlightCount(): number {
    return this.inFlight;
  }

  /** Opens the socket (when `listen` is true). */
  async listen(): Promise<void> {
    const engine = this.build();
    await engine.ready;
    if (!this.config.listen) return;
    const server = engine.createServer();
    // Errors Node's parser meets before the app sees a request (bad framing, unknown method, header
    // block too large, headers too slow) get a problem+json too, instead of Node's bare status line.
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => answerClientError(err, socket));
    // An Expect header other than 100-continue: Node would answer a bodiless 417.
    server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      sendProblem(
        HttpErrors.EXPECTATION_FAILED(
          `the Expect header ${JSON.stringify(String(req.headers.expect).slice(0, 64))} is not supported`,
        ),
        req,
        res,
        this.logger,
      );
    });
    // Without a listener Node serves an upgrade request as a plain request: only take them over when asked.
    if (this.upgrades.size > 0)
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    server.keepAliveTimeout = this.config.keepAliveTimeoutMs;
    server.requestTimeout = this.config.requestTimeoutMs + 5_000;
    server.headersTimeout = Math.min(60_000, server.requestTimeout);
    const port = this.config.port ?? (process.env.PORT ? Number(process.env.PORT) : 3000);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          HttpErrors.LISTEN_FAILED(`cannot listen on ${this.config.host}:${port}: ${err.code ?? err.message}`, {
            cause: err,
          }),
        );
      };
      server.once('error', onError);
      server.listen(port, this.config.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error({ err }, 'http server error'));
    this.server = server;
    const addr = this.address();
    this.logger.info({ host: addr?.address, port: addr?.port }, `listening on http://${addr?.address}:${addr?.port}`);
  }

  /**
   * Stops accepting connections and lets in-flight requests finish. Keep-alive clients are told to
   * close; after `drainTimeoutMs` the remaining connections are cut.
   */
  async close(): Promise<void> {
    this.draining = true;
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const idleSweep = setInterval(() => server.closeIdleConnections(), 50);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), this.config.drainTimeoutMs);
    });
    const outcome = await Promise.race([closed.then(() => 'drained' as const), deadline]);
    clearInterval(idleSweep);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      this.logger.warn(
        { inFlight: this.inFlight },
        `drain deadline of ${this.config.drainTimeoutMs} ms passed; closing remaining connections`,
      );
      server.closeAllConnections();
      // Upgraded sockets left the HTTP server's books: closeAllConnections does not see them.
      for (const socket of this.upgraded) socket.destroy();
      await closed;
    }
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const target = this.upgrades.get(path);
    if (this.draining || !this.server) {
      writeRawProblem(
        socket,
        HttpErrors.SHUTTING_DOWN('the server is shutting down and accepts no new connections', {
          headers: { 'Retry-After': '1' },
        }),
      );
      return;
    }
    if (!target) {
      writeRawProblem(socket, HttpErrors.NOT_FOUND(`no upgrade is served on ${path.slice(0, 200)}`));
      return;
    }
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    const fail = (err: unknown): void => {
      if (!socket.writable) return void socket.destroy();
      // A fault of ours (a 5xx other than 503/504) is logged, and its message withheld, as on routes.
      if (GantryError.is(err) && !toProblem(err).unexpected) writeRawProblem(socket, err);
      else {
        this.logger.error({ err, path }, 'upgrade handler failed');
        writeRawProblem(socket, HttpErrors.INTERNAL('the upgrade could not be completed'));
      }
    };
    try {
      const out = target.handler(req, socket, head);
      if (out instanceof Promise) out.catch(fail);
    } catch (err) {
      fail(err);
    }
  }

  private assertOpen(plugin: string): void {
    if (this.app)
      throw HttpErrors.ROUTES_FROZEN(`plugin "${plugin}" added a route or middleware after the HTTP server was built`);
  }

  private addRoute(plugin: string, options: RouteOptions<unknown, unknown, unknown>): void {
    this.assertOpen(plugin);
    if (!METHODS.includes(options.method))
      throw HttpErrors.ROUTE_INVALID(`plugin "${plugin}": method ${String(options.method)} is not supported`);
    if (typeof options.path !== 'string' || !options.path.startsWith('/'))
      throw HttpErrors.ROUTE_INVALID(
        `plugin "${plugin}": route path ${JSON.stringify(options.path)} must start with "/"`,
      );
    if (typeof options.handler !== 'function')
      throw HttpErrors.ROUTE_INVALID(`plugin "${plugin}": route ${options.method} ${options.path} has no handler`);
    const fullPath = options.root
      ? options.path
      : `${this.config.basePath}${options.path === '/' ? '' : options.path}` || '/';
    const clash = this.routeList.find((r) => r.method === options.method && r.path === fullPath);
    if (clash)
      throw HttpErrors.ROUTE_CONFLICT(
        `${options.method} ${fullPath} is registered by plugin "${clash.plugin}" and by plugin "${plugin}"`,
      );
    this.routeList.push({
      method: options.method,
      path: fullPath,
      root: options.root === true,
      plugin,
      summary: options.summary,
      description: options.description,
      tags: options.tags,
      schema: options.schema,
      meta: Object.freeze({ ...(options.meta ?? {}) }),
      options,
    });
  }

  /** Refuses the boot when a route needs authentication or a permission and no plugin enforces it (the route would be open). */
  private assertGuarded(): void {
    const enforcers = (kind: RouteGuardKind): string[] =>
      this.routeHooks.filter((h) => h.enforces.includes(kind)).map((h) => h.plugin);
    const problems: string[] = [];
    const authenticators = enforcers('authentication');
    const permissions = enforcers('permission');
    for (const route of this.routeList) {
      if (requiresAuthentication(route) && authenticators.length === 0)
        problems.push(
          `${route.method} ${route.path} (plugin "${route.plugin}") needs authentication but no enabled plugin authenticates callers (enable "auth-jwt" or "sessions-redis")`,
        );
      if (!route.root && route.meta.public !== true && route.meta.permission !== undefined && permissions.length === 0)
        problems.push(
          `${route.method} ${route.path} (plugin "${route.plugin}") requires permission ${JSON.stringify(route.meta.permission)} but no enabled plugin checks permissions (enable "rbac")`,
        );
    }
    if (problems.length)
      throw HttpErrors.ROUTE_UNGUARDED(
        `${problems.length} route(s) would be served without their guard:\n  - ${problems.join('\n  - ')}`,
        { details: { problems } },
      );
    // Deny by default: once callers can be told apart, a route nobody declared is refused, not served open.
    if (authenticators.length === 0) return;
    const undeclared = this.routeList.filter(
      (r) => r.meta.public !== true && !requiresAuthentication({ root: false, meta: r.meta }),
    );
    if (undeclared.length) {
      const routes = undeclared.map((r) => `${r.method} ${r.path} (plugin "${r.plugin}")`);
      throw HttpErrors.ROUTE_UNDECLARED(
        `${routes.length} route(s) do not say who may call them while ${[...new Set(authenticators)].map((a) => `"${a}"`).join(' and ')} sign callers in:\n  - ${routes.join('\n  - ')}`,
        { details: { routes } },
      );
    }
  }

  private build(): Engine {
    if (this.app) return this.app;
    const headers = securityHeaders({ hsts: this.config.hsts });
    const timeoutMs = this.config.requestTimeoutMs;
    const logger = this.logger;
    const listeners = this.listeners;
    const server = this;
    const prelude: HttpMiddleware[] = [];

    // One middleware for request id, security headers, context and response accounting: a single
    // closure-free hop instead of several, because per-request work is the framework's cost.
    prelude.push(function gantryRequest(req: IncomingMessage, res: ServerResponse, next: NextFunction) {
      const inbound = req.headers['x-request-id'];
      const requestId = typeof inbound === 'string' && REQUEST_ID.test(inbound) ? inbound : randomUUID();
      res.setHeader('x-request-id', requestId);
      for (let i = 0; i < headers.length; i++) res.setHeader(headers[i]![0], headers[i]![1]);
      if (server.draining) res.setHeader('connection', 'close');
      const ctx = new RequestContext(requestId, Date.now() + timeoutMs, logger);
      (res as unknown as Record<symbol, RequestState>)[kState] = {
        ctx,
        t0: listeners.length ? performance.now() : 0,
        server,
        closed: false,
      };
      server.inFlight++;
      // on, not once: 'close' comes once per response, and once() wraps the listener and removes it per request.
      res.on('close', onResponseClose);
      // RFC 9112 §3.2: a request with more than one Host header is refused (Node keeps the first one silently).
      if (hostCount(req.rawHeaders) > 1) {
        runWithContext(ctx, () => next(HttpErrors.BAD_REQUEST('the request has more than one Host header')));
        return;
      }
      runWithContext(ctx, next);
    });

    const corsOptions = this.config.cors;
    if (corsOptions.origins === '*' || corsOptions.origins.length > 0) {
      // The express ecosystem's cors (plain node-level middleware), options built once: preflights of
      // allowed origins are answered here (204) before any route; other origins get no CORS header at all.
      const allowed: cors.CorsOptions = {
        origin: corsOptions.origins === '*' ? '*' : true,
        credentials: corsOptions.credentials,
        maxAge: corsOptions.maxAgeSeconds,
        methods: METHODS.filter((m) => m !== 'HEAD' && m !== 'OPTIONS').join(','),
        allowedHeaders: ['content-type', 'authorization', 'x-csrf-token', 'x-request-id', 'idempotency-key'],
        exposedHeaders: [
          'x-request-id',
          'location',
          'retry-after',
          'ratelimit',
          'ratelimit-policy',
          'www-authenticate',
        ],
        optionsSuccessStatus: 204,
      };
      const refused: cors.CorsOptions = { origin: false };
      const origins = corsOptions.origins === '*' ? undefined : new Set(corsOptions.origins);
      prelude.push(
        cors((req, callback) => {
          const origin = req.headers.origin;
          callback(null, origins === undefined || (origin !== undefined && origins.has(origin)) ? allowed : refused);
        }) as HttpMiddleware,
      );
    }

    for (const m of [...this.middleware].sort((a, b) => a.order - b.order || a.seq - b.seq)) prelude.push(m.fn);

    // Bodies are parsed per route, only on methods that carry one: a GET never pays a middleware hop for it.
    // body-parser is what express.json() is, on both engines.
    const json = bodyParser().json({
      limit: this.config.bodyLimit,
      strict: true,
      type: ['application/json', 'application/*+json'],
    });
    const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

    this.assertGuarded();
    const hooks = [...this.routeHooks, authenticatedHook].sort((a, b) => a.order - b.order || a.seq - b.seq);
    const byPath = new Map<string, Set<string>>();
    const definitions: RouteDefinition[] = [];
    const routes: PlannedRoute[] = [];
    for (const route of this.routeList) {
      const handler = makeHandler(route, this.config.etag);
      const guards: { readonly name: string; readonly plugin: string }[] = [];
      const guardsFor = (stage: 'before-body' | 'after-body'): HttpMiddleware[] =>
        hooks
          .filter((h) => h.stage === stage)
          .flatMap((h) => {
            const out = h.hook(route);
            if (out === undefined || (Array.isArray(out) && out.length === 0)) return [];
            guards.push(Object.freeze({ name: h.name, plugin: h.plugin }));
            return Array.isArray(out) ? out : [out as HttpMiddleware];
          });
      const chain: HttpMiddleware[] = [
        ...(this.isRestarting ? [restartingGuard(route.plugin, this.isRestarting)] : []),
        ...guardsFor('before-body'),
        ...(BODY_METHODS.has(route.method) ? [json] : []),
        ...guardsFor('after-body'),
        ...(route.options.middleware ?? []),
        handler,
      ];
      routes.push({ method: route.method, path: route.path, chain });
      const { options: _options, ...info } = route;
      definitions.push(
        Object.freeze({
          ...info,
          status: route.options.status ?? 200,
          acceptsBody: BODY_METHODS.has(route.method),
          guards: Object.freeze(guards),
        }),
      );
      let methods = byPath.get(route.path);
      if (!methods) byPath.set(route.path, (methods = new Set()));
      methods.add(route.method);
      if (route.method === 'GET') methods.add('HEAD');
    }
    const matchers = [...byPath].map(([path, methods]) => ({
      test: match(path, { decode: false, sensitive: true }),
      methods,
    }));
    const allowedMethods = (path: string): Set<string> => {
      const allowed = new Set<string>();
      for (const m of matchers) if (m.test(path)) for (const method of m.methods) allowed.add(method);
      return allowed;
    };

    // Nothing matched: 405 with Allow when the path exists under another method (TRACE always), else 404.
    const notMatched = function notMatched(req: IncomingMessage, _res: ServerResponse, next: NextFunction) {
      const path = (req as Request).path;
      const allowed = allowedMethods(path);
      if (req.method === 'TRACE' || allowed.size > 0) {
        const allow = [...allowed].sort().join(', ');
        next(
          HttpErrors.METHOD_NOT_ALLOWED(`${req.method} is not allowed on ${path}`, {
            headers: allow ? { Allow: allow } : {},
            details: { allowed: [...allowed].sort() },
          }),
        );
        return;
      }
      next(HttpErrors.NOT_FOUND(`no route matches ${req.method} ${path}`));
    };

    const plan: EnginePlan = {
      prelude,
      routes,
      notMatched,
      allowedMethods,
      problem: (err, req, res) => sendProblem(err, req, res, logger),
    };
    const engine =
      this.config.engine === 'fastify' ? fastifyEngine(plan, this.config) : expressEngine(plan, this.config);
    this.definitionList = Object.freeze(definitions);
    this.app = engine;
    return engine;
  }
}

/** How many Host headers a request carries (raw header names alternate with values). */
function hostCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') n++;
  }
  return n;
}

/** Status and code for an error of Node's HTTP parser (see the `clientError` event). */
function parserProblem(err: NodeJS.ErrnoException): ReturnType<typeof HttpErrors.BAD_REQUEST> {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return HttpErrors.HEADERS_TOO_LARGE('the request headers are larger than the server accepts');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return HttpErrors.REQUEST_TIMEOUT('the request was not received in time');
    case 'HPE_INVALID_METHOD':
      return HttpErrors.BAD_REQUEST('the request method is not a valid HTTP method');
    default:
      return HttpErrors.BAD_REQUEST('the request is not valid HTTP/1.1 (framing, headers or URL)');
  }
}

function answerClientError(err: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  // Nothing can be written on a reset or closed socket, nor after a response began on it.
  if (err.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  writeRawProblem(socket, parserProblem(err));
}

function onResponseClose(this: ServerResponse): void {
  const state = (this as unknown as Record<symbol, RequestState | undefined>)[kState];
  if (!state || state.closed) return;
  state.closed = true;
  state.server.inFlight--;
  // writableEnded, not writableFinished: the response is complete once ended (an injected
  // light-my-request response never drains its fake socket); only an unended one was abandoned.
  const completed = this.writableEnded;
  if (completed) state.ctx.release();
  else state.ctx.cancel(new Error('client closed the connection before the response was sent'));
  const listeners = state.server.listeners;
  if (listeners.length === 0) return;
  const info: ResponseInfo = {
    method: (this.req as IncomingMessage).method ?? 'GET',
    route: routeOf(this.req),
    // Not what the client got when aborted: express's default 200 until a handler sets another.
    status: this.statusCode,
    outcome: completed ? 'completed' : 'aborted',
    durationSeconds: (performance.now() - state.t0) / 1000,
  };
  for (let i = 0; i < listeners.length; i++) {
    // A listener runs in a socket event: a throw would be an uncaught exception and end the process.
    try {
      listeners[i]!(info);
    } catch (err) {
      state.ctx.logger.error({ err, route: info.route }, 'onResponse listener failed');
    }
  }
}

/** The matched route's template (express sets `req.route` on a match), or `<unmatched>`: never the raw path. */
function routeOf(req: IncomingMessage): string {
  return ((req as { route?: { path?: unknown } }).route?.path as string | undefined) ?? UNMATCHED;
}

/** Sends an error as problem+json; unexpected errors are logged with their stack, not sent. */
export function sendProblem(
  err: unknown,
  req: IncomingMessage & { originalUrl?: string; path?: string },
  res: ServerResponse,
  logger: Logger,
): void {
  const state = (res as unknown as Record<symbol, RequestState | undefined>)[kState];
  const requestId = state?.ctx.requestId;
  const problem = toProblem(err, requestId, req.path ?? req.url);
  if (problem.unexpected)
    (state?.ctx.logger ?? logger).error({ err, method: req.method, route: routeOf(req) }, 'request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = problem.status;
  for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
  res.setHeader('content-type', PROBLEM_CONTENT_TYPE);
  res.end(JSON.stringify(problem.body));
}

class Reply implements RouteReply {
  statusCode: number | undefined;
  contentType: string | undefined;
  constructor(readonly raw: ServerResponse) {}
  status(code: number): RouteReply {
    this.statusCode = code;
    return this;
  }
  header(name: string, value: string | readonly string[]): RouteReply {
    this.raw.setHeader(name, value as string | string[]);
    return this;
  }
  type(contentType: string): RouteReply {
    this.contentType = contentType;
    return this;
  }
}

/** A handler's input. `ip` and `path` are getters: resolving the client IP (trust proxy) costs, and most handlers never ask. */
class Input implements RouteRequest {
  constructor(
    readonly params: unknown,
    readonly query: unknown,
    readonly body: unknown,
    readonly raw: Request,
    readonly context: RequestContext,
  ) {}
  get headers(): Request['headers'] {
    return this.raw.headers;
  }
  get method(): string {
    return this.raw.method ?? 'GET';
  }
  get path(): string {
    return this.raw.path;
  }
  get ip(): string | undefined {
    return this.raw.ip;
  }
}

/** Answers 503 with Retry-After while the route's plugin restarts for a config change (a Set lookup otherwise). */
function restartingGuard(plugin: string, isRestarting: (plugin: string) => boolean): HttpMiddleware {
  return function pluginRestarting(_req: IncomingMessage, _res: ServerResponse, next: NextFunction) {
    if (!isRestarting(plugin)) return next();
    next(
      CoreErrors.PLUGIN_RESTARTING(`plugin "${plugin}" is restarting to apply a config change`, {
        headers: { 'Retry-After': '1' },
        details: { plugin },
      }),
    );
  };
}

function makeHandler(route: StoredRoute, etag: boolean): HttpMiddleware {
  const { options } = route;
  const schema = options.schema ?? {};
  const hasInputSchema = Boolean(schema.params || schema.query || schema.body);
  const successStatus = options.status ?? 200;
  const template = route.path;
  const userHandler = options.handler;

  /** Answers with what the handler returned (or resolved to). */
  const respond = (res: Response, reply: Reply, result: unknown): void => {
    if (res.headersSent || res.writableEnded) return;
    if (result === undefined) {
      res.status(reply.statusCode ?? (successStatus === 200 ? 204 : successStatus)).end();
    } else if (reply.contentType !== undefined && (typeof result === 'string' || Buffer.isBuffer(result))) {
      res
        .status(reply.statusCode ?? successStatus)
        .type(reply.contentType)
        .send(result);
    } else {
      res.status(reply.statusCode ?? successStatus);
      if (!sendJson(res, result, etag)) res.json(result);
    }
  };

  // Not an async function: a handler that returns its value (no promise) is answered at once, without
  // a promise and a microtask turn per request; one that returns a promise (or any thenable, such as a
  // query builder) is answered when it settles.
  return function gantryRoute(message: IncomingMessage, response: ServerResponse, next: NextFunction) {
    const req = message as Request;
    const res = response as Response;
    const state = (res as unknown as Record<symbol, RequestState>)[kState];
    try {
      // Each read once: express 5's `req.query` is a getter that parses the query string again at every read.
      let params: unknown = req.params;
      let query: unknown = req.query;
      let body: unknown = req.body;
      // Every route, schema or not: no field can hold NUL or a lone surrogate (storage would cut or
      // alter it), so they are refused here, naming the field, before any handler sees them.
      refuseUnsafeStrings(params, query, body);
      if (hasInputSchema) {
        if (schema.body && body === undefined && hasBody(req) && !req.is(['application/json', 'application/*+json'])) {
          throw HttpErrors.UNSUPPORTED_MEDIA_TYPE(`${req.method} ${template} accepts application/json bodies only`);
        }
        const errors: FieldError[] = [];
        params = check(schema.params, params, 'params', errors);
        query = check(schema.query, query, 'query', errors);
        body = check(schema.body, body, 'body', errors);
        if (errors.length > 0) {
          throw HttpErrors.VALIDATION(
            `${errors.length} invalid field${errors.length > 1 ? 's' : ''}: ${errors.map((e) => `${e.in}.${e.field}`).join(', ')}`,
            { details: { errors } },
          );
        }
      }
      const reply = new Reply(res);
      const input = new Input(params, query, body, req, state.ctx);
      const out: unknown = userHandler(input, reply);
      if (out !== null && typeof out === 'object' && typeof (out as PromiseLike<unknown>).then === 'function') {
        return Promise.resolve(out as PromiseLike<unknown>)
          .then((result) => respond(res, reply, result))
          .then(undefined, next);
      }
      respond(res, reply, out);
    } catch (err) {
      next(err);
    }
    return undefined;
  };
}

const UNSAFE_MESSAGE = {
  nul: 'must not contain the NUL character (U+0000)',
  'ill-formed': 'must be well-formed Unicode (a lone surrogate such as \\ud800 cannot be stored)',
} as const;

function refuseUnsafeStrings(params: unknown, query: unknown, body: unknown): void {
  if (!hasUnsafeStrings(params) && !hasUnsafeStrings(query) && !hasUnsafeStrings(body)) return;
  const errors: FieldError[] = [];
  unsafeFields(params, 'params', errors);
  unsafeFields(query, 'query', errors);
  unsafeFields(body, 'body', errors);
  if (errors.length > 0) {
    throw HttpErrors.VALIDATION(
      `${errors.length} invalid field${errors.length > 1 ? 's' : ''}: ${errors.map((e) => `${e.in}.${e.field}`).join(', ')}`,
      { details: { errors } },
    );
  }
}

function unsafeFields(value: unknown, where: FieldError['in'], errors: FieldError[]): void {
  for (const found of findUnsafeStrings(value))
    errors.push({ in: where, field: found.field, message: UNSAFE_MESSAGE[found.reason], code: 'invalid_characters' });
}

function hasBody(req: Request): boolean {
  return (
    req.headers['transfer-encoding'] !== undefined ||
    (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0')
  );
}

function check(schema: ZodType | undefined, value: unknown, where: FieldError['in'], errors: FieldError[]): unknown {
  if (!schema) return value;
  const result = schema.safeParse(value === undefined && where === 'body' ? undefined : value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    errors.push({
      in: where,
      field: issue.path.length ? issue.path.join('.') : '(root)',
      message: issue.message,
      code: issue.code,
    });
  }
  return undefined;
}
