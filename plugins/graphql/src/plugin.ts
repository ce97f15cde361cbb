import { currentContext, definePlugin, KernelInfoToken, packageVersion, type Principal } from '@gantry/core';
import { HttpErrors, HttpServerToken, writeRawProblem } from '@gantry/http';
import { createHandler } from 'graphql-http/lib/use/express';
import type { DocumentNode, GraphQLError, GraphQLSchema, ValidationRule } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { graphqlConfigSchema } from './config.js';
import { GraphqlErrors } from './errors.js';
import { AuthJwtToken, RateLimitsToken, RbacToken, SessionsToken } from './peer-tokens.js';
import { formatError, GraphqlRegistry, type GraphqlContext } from './registry.js';
import { GraphqlToken } from './tokens.js';

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

/** The `graphql` plugin: GraphQL over HTTP at /graphql and graphql-ws subscriptions, schema contributed by plugins. */
export const plugin = definePlugin({
  name: 'graphql',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'GraphQL over HTTP (graphql-js + graphql-http) and graphql-ws subscriptions: contributed schema, per-field access checked at boot, depth/complexity limits, DataLoader, persisted queries',
  dependsOn: ['http'],
  optionalDependsOn: ['auth-jwt', 'sessions-redis', 'rbac', 'rate-limit'],
  requires: [HttpServerToken],
  provides: [GraphqlToken],
  config: graphqlConfigSchema,
  register(ctx) {
    const { config, container } = ctx;
    const enabled = container.get(KernelInfoToken).plugins;
    const tokens = container.tryGet(AuthJwtToken);
    const sessions = container.tryGet(SessionsToken);
    const origins = new Set(config.allowedOrigins.map((o) => new URL(o).origin));
    const registry = new GraphqlRegistry({
      config,
      profile: ctx.profile,
      logger: ctx.logger,
      events: () => ctx.events,
      rbac: container.tryGet(RbacToken),
      authenticates: enabled.includes('auth-jwt') || enabled.includes('sessions-redis'),
    });
    ctx.provide(GraphqlToken, registry);

    const handler = createHandler<GraphqlContext & Record<PropertyKey, unknown>>({
      schema: () => registry.schema(),
      context: () => registry.context(currentContext()?.principal) as GraphqlContext & Record<PropertyKey, unknown>,
      parse: (source) => registry.parse(source as string),
      validate: ((schema: GraphQLSchema, document: DocumentNode, rules: readonly ValidationRule[]) =>
        registry.validate(schema, document, rules)) as never,
      validationRules: (_req, args) =>
        registry.validationRules(args.variableValues ?? undefined, args.operationName ?? undefined),
      onSubscribe: (_req, params) => {
        const resolved = registry.resolveDocument(params.query, params.extensions);
        if ('error' in resolved) return [resolved.error];
        return undefined;
      },
      formatError: (err) => formatError(err as GraphQLError, ctx.logger) as GraphQLError,
    });

    const route = {
      root: true,
      tags: ['graphql'],
      // Anyone may send a document; each field declares who may read it (checked at boot, enforced per
      // field). The authenticators still run: a bearer token or session cookie (+ CSRF on POST) sets the caller.
      meta: { public: true, auth: 'optional', rateLimit: config.rateLimit },
    } as const;
    const serve = async (raw: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      // graphql-http answers an unacceptable Accept with a bare 406: say it as a coded problem instead.
      if (!acceptable(raw.headers.accept))
        throw GraphqlErrors.NOT_ACCEPTABLE(
          'this endpoint answers application/graphql-response+json or application/json',
        );
      const refused = persistedToQuery(raw, registry);
      if (refused) {
        // Answered here: graphql-http would only see a request without a query.
        const graphqlResponse = String(raw.headers.accept ?? '').includes('application/graphql-response+json');
        res.statusCode = graphqlResponse ? 400 : 200;
        res.setHeader(
          'content-type',
          graphqlResponse ? 'application/graphql-response+json; charset=utf-8' : 'application/json; charset=utf-8',
        );
        res.end(JSON.stringify({ errors: [formatError(refused, ctx.logger)] }));
        return undefined;
      }
      await handler(raw as never, res as never, (err?: unknown) => {
        if (err) throw err;
      });
      return undefined;
    };
    ctx.http.get(config.path, { ...route, summary: 'GraphQL query over HTTP (GET, queries only)' }, (req, reply) =>
      serve(req.raw, reply.raw),
    );
    ctx.http.post(config.path, { ...route, summary: 'GraphQL operation over HTTP (POST)' }, (req, reply) =>
      serve(req.raw, reply.raw),
    );

    let dispose: (() => Promise<void> | void) | undefined;
    let draining = false;
    const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false });
    if (config.subscriptions) {
      const server = container.get(HttpServerToken);
      // An upgrade counts under the routes' policy, per client IP, like a request to them (refused with 429 past it).
      const limits = config.rateLimit === false ? undefined : container.tryGet(RateLimitsToken);
      const policy = config.rateLimit;
      server.onUpgrade(
        config.path,
        async (req, socket, head) => {
          if (draining || !dispose) {
            writeRawProblem(socket, HttpErrors.SHUTTING_DOWN('subscriptions are not being accepted'));
            return;
          }
          if (limits && policy !== false) await limits.consume(policy, server.clientIp(req));
          wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
        },
        ctx.name,
      );
    }

    ctx.lifecycle.hook({
      name: 'schema',
      start: () => {
        const schema = registry.build();
        if (!config.subscriptions) return;
        const server = useServer<Record<string, unknown>, { principal?: Principal }>(
          {
            schema,
            connectionInitWaitTimeout: config.connectionInitTimeoutMs,
            // The same bearer tokens as HTTP, in connection_init's payload: {"authorization":"Bearer <token>"}.
            onConnect: async (c) => {
              const given = c.connectionParams?.authorization ?? c.connectionParams?.Authorization;
              if (given === undefined) {
                // The session cookie, only from a listed Origin: a browser sends it on cross-site upgrades too.
                const request = c.extra.request;
                const cookie = request.headers.cookie;
                if (!sessions || !cookie) return true;
                const origin = request.headers.origin;
                if (origin === undefined || !origins.has(origin)) return false;
                const session = await sessions.authenticateCookie(cookie);
                if (!session) return false;
                c.extra.principal = { id: session.userId, kind: 'user', via: 'session', sessionId: session.sessionId };
                return true;
              }
              const match = typeof given === 'string' ? BEARER.exec(given) : null;
              if (!match || !tokens) return false;
              try {
                const claims = await tokens.verifyAccess(match[1]!);
                c.extra.principal = {
                  id: claims.sub,
                  kind: 'user',
                  via: 'bearer',
                  roles: Array.isArray(claims.roles) ? [...claims.roles] : [],
                };
                return true;
              } catch {
                return false;
              }
            },
            onSubscribe: (c, _id, payload) => {
              const resolved = registry.resolveDocument(payload.query, payload.extensions);
              if ('error' in resolved) return [resolved.error];
              const variables = (payload.variables ?? undefined) as Record<string, unknown> | undefined;
              const prepared = registry.prepare(resolved.query, variables, payload.operationName ?? undefined);
              if ('errors' in prepared) return prepared.errors;
              return {
                schema,
                document: prepared.document,
                variableValues: variables,
                operationName: payload.operationName ?? undefined,
                contextValue: registry.context(c.extra.principal),
              };
            },
            onError: (_c, _id, _payload, errors) =>
              errors.map((e) => formatError(e, ctx.logger) as unknown as GraphQLError),
            onNext: (_c, _id, _payload, _args, result) => {
              if (!('errors' in result) || !result.errors) return result;
              return {
                ...result,
                errors: result.errors.map((e) => formatError(e, ctx.logger)),
              } as unknown as typeof result;
            },
          },
          wss,
        );
        draining = false;
        dispose = () => server.dispose();
      },
    });
    ctx.health.check(
      () => {
        try {
          const schema = registry.schema();
          return { status: 'up', details: { types: Object.keys(schema.getTypeMap()).length } };
        } catch {
          return { status: 'down', details: { error: 'schema not built yet' } };
        }
      },
      { critical: false },
    );
    ctx.lifecycle.hook({
      name: 'subscriptions-drain',
      phase: 'serve',
      start: () => undefined,
      // Closes every graphql-ws socket with 1001 before the HTTP server drains.
      stop: async () => {
        draining = true;
        const d = dispose;
        dispose = undefined;
        await d?.();
      },
    });
  },
});

/**
 * Fills in the document of a persisted query sent by hash only (Apollo's `extensions.persistedQuery`),
 * on GET (query string) and POST (JSON body) alike. Unknown hashes are left for onSubscribe to refuse.
 */
function persistedToQuery(
  raw: import('node:http').IncomingMessage,
  registry: GraphqlRegistry,
): GraphQLError | undefined {
  const body = (raw as { body?: unknown }).body as { query?: unknown; extensions?: unknown } | undefined;
  if (raw.method === 'POST' && body && typeof body === 'object' && body.query === undefined && body.extensions) {
    const resolved = registry.resolveDocument(undefined, body.extensions);
    if ('error' in resolved) return resolved.error;
    body.query = resolved.query;
    return undefined;
  }
  if (raw.method !== 'GET' || !raw.url?.includes('extensions=')) return undefined;
  const q = raw.url.indexOf('?');
  const params = new URLSearchParams(raw.url.slice(q + 1));
  if (params.has('query')) return undefined;
  let extensions: unknown;
  try {
    extensions = JSON.parse(params.get('extensions') ?? '');
  } catch {
    return undefined;
  }
  if (!(extensions as { persistedQuery?: unknown } | null)?.persistedQuery) return undefined;
  const resolved = registry.resolveDocument(undefined, extensions);
  if ('error' in resolved) return resolved.error;
  params.set('query', resolved.query);
  raw.url = `${raw.url.slice(0, q)}?${params.toString()}`;
  return undefined;
}

/** Whether graphql-http can answer this Accept header (its own rule: a UTF-8 JSON media type, or any). */
function acceptable(accept: string | undefined): boolean {
  for (const item of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [type, ...params] = item.split(';');
    const charset = params.find((p) => p.includes('charset=')) ?? 'charset=utf-8';
    if (type === 'application/graphql-response+json' && charset === 'charset=utf-8') return true;
    if (
      (type === 'application/json' || type === 'application/*' || type === '*/*') &&
      (charset === 'charset=utf-8' || charset === 'charset=utf8')
    )
      return true;
  }
  return false;
}
