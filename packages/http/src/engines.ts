import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { HttpMethod, HttpMiddleware } from '@gantry/core';
import type expressType from 'express';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { match } from 'path-to-regexp';
import type { HttpConfig } from './config.js';
import { HttpErrors } from './errors.js';
import { compatClasses, requestIp } from './node-compat.js';

// Each engine loads its framework on first use: an express app never loads fastify, nor a fastify app express.
const require = createRequire(import.meta.url);

/**
 * The frameworks once loaded: by {@link loadEngine} from the http plugin's start hook, with `import()`,
 * which a bundler follows (the sandbox's bundle carries express in a chunk of its own), or else by
 * `require()` when an app is built before that hook (tests building a server by hand).
 */
const frameworks: {
  express?: typeof expressType;
  fastify?: typeof import('fastify').default;
  bodyParser?: BodyParser;
} = {};

/** body-parser, what express.json() is: the routes' JSON bodies on both engines. */
export interface BodyParser {
  json(options: { limit: string | number; strict: boolean; type: string[] }): HttpMiddleware;
}

/** Loads the engine's framework and body-parser, once per process. */
export async function loadEngine(name: EngineName): Promise<void> {
  if (name === 'express') frameworks.express ??= (await import('express')).default;
  else frameworks.fastify ??= (await import('fastify')).default;
  frameworks.bodyParser ??= (await import('body-parser')).default as unknown as BodyParser;
}

/** body-parser, loaded by {@link loadEngine} or on first use. */
export function bodyParser(): BodyParser {
  frameworks.bodyParser ??= require('body-parser') as BodyParser;
  return frameworks.bodyParser;
}

/** The engines the http plugin serves on (`http.engine`). */
export type EngineName = 'express' | 'fastify';

/** A route as the engines serve it: full path template (express syntax) and its node-level chain, handler last. */
export interface PlannedRoute {
  readonly method: HttpMethod;
  readonly path: string;
  readonly chain: readonly HttpMiddleware[];
}

/**
 * What the shared part of the HTTP layer hands an engine, built once at start: engine-neutral
 * node-level steps (`(req, res, next)`), run with express's semantics on both engines.
 */
export interface EnginePlan {
  /** Request id, security headers, context and accounting, CORS, then `use()` middleware: every request. */
  readonly prelude: readonly HttpMiddleware[];
  readonly routes: readonly PlannedRoute[];
  /** After the prelude when no route matched: answers 405 (path known under another method) or 404. */
  readonly notMatched: HttpMiddleware;
  /** Methods served per matching path (the 405 table), for requests the router cannot even look up. */
  readonly allowedMethods: (path: string) => ReadonlySet<string>;
  /** Answers an error as problem+json. */
  readonly problem: (err: unknown, req: IncomingMessage, res: ServerResponse) => void;
}

/** An assembled engine. */
export interface Engine {
  readonly name: EngineName;
  /** Serves a request (also without a socket, e.g. with inject()); waits for the engine to be ready. */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Resolves once the engine can serve (fastify loads its plugins asynchronously). */
  readonly ready: Promise<void>;
  /** Creates the HTTP server for `listen()`, with the engine's request and response classes. */
  createServer(): import('node:http').Server;
}

/** The express 5 engine: every step is an express middleware, in the plan's order. */
export function expressEngine(plan: EnginePlan, config: HttpConfig): Engine {
  frameworks.express ??= require('express') as typeof expressType;
  const express = frameworks.express;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', config.etag);
  app.set('trust proxy', config.trustProxy);
  app.set('query parser', 'simple');
  // Paths are case-sensitive, as in most HTTP APIs and in the 405 table: /API/V1/x is not /api/v1/x.
  app.set('case sensitive routing', true);
  for (const step of plan.prelude) app.use(step as expressType.RequestHandler);
  // express's router tries its layers one by one, a path test each: with a route per layer, a request
  // to the 50th route paid 49 tests first, so its cost grew with every plugin's routes. Routes are
  // served here instead: a segment index gives the routes that can match the path (registration
  // order), each is matched as express's router does (path-to-regexp, same options, parameters
  // decoded), and its chain runs with express's next() semantics (next('route') tries the next one).
  const index = new RouteIndex();
  const compiled = plan.routes.map((route, at) => {
    index.add(route.method, route.path, at);
    return {
      chain: route.chain,
      ref: Object.freeze({ path: route.path }),
      match: match(loosen(route.path), { decode: decodeParam, end: true, sensitive: true, trailing: true }),
    };
  });
  app.use(function gantryRoutes(req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) {
    const path = parseurl(req)?.pathname ?? '/';
    const candidates = index.lookup(req.method ?? 'GET', path);
    if (candidates.length === 0) return next();
    const r = req as IncomingMessage & { params?: unknown; route?: unknown };
    const outer = r.params;
    let i = 0;
    const tryNext = (err?: unknown): void => {
      if (err && err !== 'route') {
        r.params = outer;
        // 'router' leaves the routes, as it leaves express's router.
        return err === 'router' ? next() : next(err);
      }
      for (;;) {
        const at = candidates[i++];
        if (at === undefined) {
          r.params = outer;
          return next();
        }
        const route = compiled[at]!;
        let found: ReturnType<typeof route.match>;
        try {
          found = route.match(path);
        } catch {
          // express's router: a parameter that is not valid percent-encoding fails the request.
          r.params = outer;
          return next(HttpErrors.BAD_REQUEST('the request path is not valid percent-encoding'));
        }
        if (!found) continue;
        r.params = found.params;
        r.route = route.ref;
        return runChain(route.chain, req, res, tryNext);
      }
    };
    tryNext();
  } as expressType.RequestHandler);
  app.use(plan.notMatched as expressType.RequestHandler);
  app.use(function problemHandler(
    err: unknown,
    req: expressType.Request,
    res: expressType.Response,
    _next: expressType.NextFunction,
  ) {
    plan.problem(err, req, res);
  });
  // req.ip as express computes it (proxy-addr with the app's trust function), resolved once per request.
  const trust = app.get('trust proxy fn') as (addr: string, i: number) => boolean;
  Object.defineProperty(app.request, 'ip', {
    configurable: true,
    enumerable: true,
    get(this: IncomingMessage): string {
      return requestIp(this, trust);
    },
  });
  // express's app.handle gives each request and response express's prototypes with
  // Object.setPrototypeOf, and builds a finalhandler (a closure, a bound logger, a settings lookup)
  // when no callback is passed. The server below constructs them with those prototypes already, which
  // makes that call a no-op and keeps one object shape per request, and passes the plan's own end as the
  // callback (the chain always answers: notMatched, then the problem handler). `handler` stays the app
  // itself: requests made elsewhere (light-my-request's inject) get express's prototypes from it.
  const handle = (
    app as unknown as { handle(req: IncomingMessage, res: ServerResponse, done: (err?: unknown) => void): void }
  ).handle.bind(app);
  const serve = (req: IncomingMessage, res: ServerResponse): void =>
    handle(req, res, (err) => plan.problem(err ?? HttpErrors.NOT_FOUND('no route matches the request'), req, res));
  const Request = withPrototype(IncomingMessage, app.request) as unknown as typeof IncomingMessage;
  const Response = withPrototype(ServerResponse, app.response) as unknown as typeof ServerResponse;
  return {
    name: 'express',
    handler: app as unknown as (req: IncomingMessage, res: ServerResponse) => void,
    ready: Promise.resolve(),
    createServer: () => createServer({ IncomingMessage: Request, ServerResponse: Response }, serve),
  };
}

/**
 * A constructor of Node's `base` (IncomingMessage, ServerResponse) whose instances have `proto`
 * (express's `app.request`, `app.response`) as their prototype from the start.
 */
function withPrototype(base: new (...args: never[]) => object, proto: object): (...args: unknown[]) => object {
  function Constructed(...args: unknown[]): object {
    return Reflect.construct(base, args, Constructed);
  }
  Constructed.prototype = proto;
  return Constructed;
}

const parseurl = require('parseurl') as (req: IncomingMessage) => { pathname: string | null } | undefined;

interface IndexNode {
  readonly statics: Map<string, IndexNode>;
  dynamic: IndexNode | undefined;
  readonly routes: number[];
}
const indexNode = (): IndexNode => ({ statics: new Map(), dynamic: undefined, routes: [] });
const NONE: readonly number[] = Object.freeze([]);

/**
 * Which routes can match a request path, by method and path segments, in registration order. It
 * only narrows: a route it returns may still not match (its own matcher decides), and it never leaves
 * out one that could. A segment with a parameter (`:id`, `v:major`) takes any segment; a template it
 * cannot split (wildcards, optional groups, escapes) is a candidate for every path of its method.
 * Static paths are answered from a table built once; other paths walk the segment tree.
 */
export class RouteIndex {
  private readonly roots = new Map<string, IndexNode>();
  private readonly anywhere = new Map<string, number[]>();
  /** Static paths' answers by method, then path (two lookups: no key string built per request). */
  private readonly exact = new Map<string, Map<string, readonly number[]>>();
  private readonly statics: { method: string; path: string }[] = [];

  add(method: string, template: string, at: number): void {
    this.exact.clear();
    if (/[*{}()?+\\]/.test(template)) {
      let list = this.anywhere.get(method);
      if (!list) this.anywhere.set(method, (list = []));
      list.push(at);
      return;
    }
    let node = this.roots.get(method);
    if (!node) this.roots.set(method, (node = indexNode()));
    for (const segment of segmentsOf(template)) {
      if (segment.includes(':')) node = node.dynamic ??= indexNode();
      else {
        let child = node.statics.get(segment);
        if (!child) node.statics.set(segment, (child = indexNode()));
        node = child;
      }
    }
    node.routes.push(at);
    if (!template.includes(':')) this.statics.push({ method, path: template });
  }

  /** The routes of `method` (GET's too for HEAD, as express serves HEAD with a GET route) that can match `path`. */
  lookup(method: string, path: string): readonly number[] {
    if (this.exact.size === 0 && this.statics.length > 0) this.fillExact();
    return this.exact.get(method)?.get(path) ?? this.walk(method, path);
  }

  private fillExact(): void {
    for (const { method, path } of this.statics)
      for (const m of method === 'GET' ? ['GET', 'HEAD'] : [method]) {
        let paths = this.exact.get(m);
        if (!paths) this.exact.set(m, (paths = new Map()));
        paths.set(path, this.walk(m, path));
        if (path.length > 1) paths.set(`${path}/`, this.walk(m, `${path}/`));
      }
  }

  private walk(method: string, path: string): readonly number[] {
    const out: number[] = [];
    const segments = segmentsOf(path);
    for (const m of method === 'HEAD' ? ['HEAD', 'GET'] : [method]) {
      const root = this.roots.get(m);
      if (root) collect(root, segments, 0, out);
      const anywhere = this.anywhere.get(m);
      if (anywhere) out.push(...anywhere);
    }
    if (out.length === 0) return NONE;
    return out.length === 1 ? out : [...new Set(out)].sort((a, b) => a - b);
  }
}

function collect(node: IndexNode, segments: readonly string[], depth: number, out: number[]): void {
  if (depth === segments.length) {
    out.push(...node.routes);
    return;
  }
  const child = node.statics.get(segments[depth]!);
  if (child) collect(child, segments, depth + 1, out);
  if (node.dynamic) collect(node.dynamic, segments, depth + 1, out);
}

/** A path's segments, one trailing slash aside (express's non-strict routing): `/a/b/` → `a`, `b`; `/` → none. */
function segmentsOf(path: string): string[] {
  let p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (p.startsWith('/')) p = p.slice(1);
  return p === '' ? [] : p.split('/');
}

/** A placeholder for an uncomputed query: the compat request parses `req.url`'s query lazily, as express does. */
const NO_QUERY = Object.freeze({});

/**
 * The fastify 5 engine: fastify routes (find-my-way) and runs each request; Gantry's node-level steps
 * run on the raw request and response, which carry express's request/response members (node-compat),
 * so plugin middleware (express-rate-limit, hooks reading `req.ip` or `req.body`) runs unchanged.
 * Fastify's own body parsing, 404 and error replies are not used: the plan's steps answer everything,
 * so statuses, headers and problems are the same as on express.
 */
export function fastifyEngine(plan: EnginePlan, config: HttpConfig): Engine {
  frameworks.fastify ??= require('fastify') as typeof import('fastify').default;
  const fastify = frameworks.fastify;
  const compat = compatClasses({ trustProxy: config.trustProxy, etag: config.etag });
  const { ensureCompat } = compat;
  let dispatch: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const app: FastifyInstance = fastify({
    // Fastify's routing function is all Gantry takes: the server is Gantry's own (see createServer).
    serverFactory: (handler) => {
      dispatch = handler;
      return createServer();
    },
    exposeHeadRoutes: false,
    return503OnClosing: false,
    logger: false,
    routerOptions: {
      // express 5 (non-strict routing): /notes/ is /notes; case-sensitive; no length limit on a parameter.
      ignoreTrailingSlash: true,
      caseSensitive: true,
      maxParamLength: 65_535,
      querystringParser: () => NO_QUERY,
    },
    frameworkErrors: (err, request, reply) => {
      const req = request.raw;
      const res = reply.raw;
      ensureCompat(req, res);
      // A path that is not valid percent-encoding: express answers 400 when it matches a route (its
      // parameter cannot be decoded) and 404/405 otherwise.
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const allowed = plan.allowedMethods(q === -1 ? url : url.slice(0, q));
      const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
      const fail: HttpMiddleware =
        err.code === 'FST_ERR_BAD_URL' && allowed.has(method)
          ? (_req, _res, next) => next(HttpErrors.BAD_REQUEST('the request path is not valid percent-encoding'))
          : plan.notMatched;
      run([...plan.prelude, fail], req, res, plan);
    },
  });
  app.removeAllContentTypeParsers();
  // Bodies are left unread: the route's own chain parses JSON (body-parser, as on express) after its before-body guards.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  const explicitHead = new Set(plan.routes.filter((r) => r.method === 'HEAD').map((r) => r.path));
  for (const route of plan.routes) {
    const ref = Object.freeze({ path: route.path });
    // find-my-way matches the percent-decoded path (/no%74es is /notes); express matches the path as
    // sent, decoding parameters only. A path with an escape is checked against the template as sent.
    const asSent = match(route.path, { decode: false, sensitive: true });
    // The route is set once the prelude ran, as express sets req.route on a match: `use()` middleware
    // and CORS answers still see an unmatched request.
    const enter: HttpMiddleware = (req, res, next) => {
      const url = req.url ?? '/';
      if (url.indexOf('%') !== -1) {
        const q = url.indexOf('?');
        const path = q === -1 ? url : url.slice(0, q);
        if (path.indexOf('%') !== -1 && !asSent(path)) {
          plan.notMatched(req, res, next);
          return;
        }
      }
      (req as { route?: unknown }).route = ref;
      next();
    };
    const chain = [...plan.prelude, enter, ...route.chain];
    const serve = (request: FastifyRequest, reply: FastifyReply): void => {
      reply.hijack();
      const req = request.raw;
      const res = reply.raw;
      ensureCompat(req, res);
      (req as { params?: unknown }).params = request.params;
      run(chain, req, res, plan);
    };
    const methods: HttpMethod[] =
      route.method === 'GET' && !explicitHead.has(route.path) ? ['GET', 'HEAD'] : [route.method];
    const url = fastifyPath(route.path);
    if (route.method === 'GET' || route.method === 'HEAD') app.route({ method: methods, url, handler: serve });
    // Before fastify looks at the body (content-type checks, parsing): the chain's before-body guards
    // run first and the chain parses the body itself, as express does.
    else
      app.route({
        method: methods,
        url,
        onRequest: (request, reply, done) => {
          serve(request, reply);
          done();
        },
        handler: () => undefined,
      });
  }
  const missed = [...plan.prelude, plan.notMatched];
  const notFound = (request: FastifyRequest, reply: FastifyReply): void => {
    reply.hijack();
    const req = request.raw;
    const res = reply.raw;
    ensureCompat(req, res);
    run(missed, req, res, plan);
  };
  // Unmatched requests of every method fastify knows go to a catch-all route answered before fastify
  // looks at the body (its 415 for a malformed Content-Type would come first otherwise); the not-found
  // handler takes what is left (methods fastify has no route tree for).
  app.route({
    method: app.supportedMethods,
    url: '*',
    onRequest: (request, reply, done) => {
      notFound(request, reply);
      done();
    },
    handler: () => undefined,
  });
  app.setNotFoundHandler(notFound);

  let live: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const ready = Promise.resolve(app.ready()).then(() => {
    live = dispatch;
  });
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (live) live(req, res);
    else
      ready.then(
        () => live!(req, res),
        (err: unknown) => plan.problem(err, req, res),
      );
  };
  return {
    name: 'fastify',
    handler,
    ready,
    createServer: () =>
      createServer({ IncomingMessage: compat.Request, ServerResponse: compat.Response }, (req, res) =>
        live ? live(req, res) : handler(req, res),
      ),
  };
}

/** express's router: a route template matches with or without one trailing slash (non-strict). */
function loosen(path: string): string {
  return path === '/' ? path : path.replace(/\/+$/, '');
}

/** express's router: parameters are percent-decoded (a URIError for invalid encoding). */
function decodeParam(value: string): string {
  return value.length === 0 ? value : decodeURIComponent(value);
}

/**
 * Runs a route's steps as express's Route does: `next()` goes on, and past the last step `done()`;
 * `next(err)` (also `'route'` and `'router'`), a throw or a rejected promise go to `done(err)`.
 */
function runChain(
  chain: readonly HttpMiddleware[],
  req: IncomingMessage,
  res: ServerResponse,
  done: (err?: unknown) => void,
): void {
  let i = 0;
  const next = (err?: unknown): void => {
    if (err) return done(err);
    const step = chain[i++];
    if (step === undefined) return done();
    try {
      const out = step(req, res, next) as unknown;
      if (out instanceof Promise) out.then(undefined, (e: unknown) => next(e || new Error('Rejected promise')));
    } catch (e) {
      next(e || new Error('Thrown falsy value'));
    }
  };
  next();
}

/**
 * Runs node-level steps as the express engine runs a route's (`runChain`, express's semantics): an
 * error is answered; past the last step, or on `next('route')` / `next('router')`, the request is
 * unmatched.
 */
function run(chain: readonly HttpMiddleware[], req: IncomingMessage, res: ServerResponse, plan: EnginePlan): void {
  runChain(chain, req, res, (err) => {
    if (err === undefined || err === 'route' || err === 'router') run([plan.notMatched], req, res, plan);
    else plan.problem(err, req, res);
  });
}

/** An express 5 path template (`/notes/:id`) as find-my-way's; the syntax it lacks (`*rest`, `{optional}`) is refused. */
export function fastifyPath(path: string): string {
  if (/[*{}()?+]/.test(path))
    throw HttpErrors.ROUTE_INVALID(
      `route ${path}: the fastify engine serves ":param" templates only (no wildcards, optional groups or patterns)`,
    );
  return path;
}
