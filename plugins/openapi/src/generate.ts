import { acceptsCredential, registeredErrorCodes, requiresAuthentication, type ErrorSpec } from '@gantry/core';
import type { RouteDefinition } from '@gantry/http';
import { z, type ZodType } from 'zod';
import { deepMerge, isObject } from './merge.js';

/** A JSON object of the document (OpenAPI objects are plain JSON). */
export type Json = Record<string, unknown>;

/** A rate-limit policy as the document describes it (from rate-limit's RateLimitsToken, when enabled). */
export interface PolicyFacts {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  readonly failOpen: boolean;
}

/** What the generator needs to know besides the routes: all of it read once at start. */
export interface GenerateInput {
  readonly routes: readonly RouteDefinition[];
  readonly info: { readonly title: string; readonly version: string; readonly description?: string };
  readonly servers: readonly string[];
  /** Names of the enabled plugins. */
  readonly plugins: readonly string[];
  /** The rate-limit policy guarding a route, when rate-limit is enabled. */
  readonly policyFor?: (route: RouteDefinition) => PolicyFacts | undefined;
  /** Whether a plugin registered a critical readiness check (its routes can answer 503 when it is down). */
  readonly hasCriticalCheck: (plugin: string) => boolean;
  /** Session security scheme, when sessions-redis is enabled. */
  readonly session?: { readonly cookie: string; readonly csrfHeader: string };
  /** Called for each schema zod cannot represent in JSON Schema (emitted as `{}`: any value). */
  readonly onUnrepresentable?: (where: string) => void;
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' } as const;
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

const REASON: Readonly<Record<number, string>> = {
  400: 'The request is invalid (malformed JSON, a field refused by the schema, or a character that cannot be stored)',
  401: 'No valid credential was sent',
  403: 'The caller may not do this',
  404: 'Nothing matches the path parameters (or the caller may not know it exists)',
  405: 'The method is not allowed on this path',
  409: 'The request conflicts with the current state',
  413: 'The body is larger than the server accepts',
  415: 'The body is not application/json',
  422: 'The request is well-formed but cannot be processed',
  429: 'Too many requests: wait for the time in Retry-After',
  503: 'A service this route needs is unavailable: retry later',
};

/** `/notes/:id` → `/notes/{id}`; `*rest` → `{rest}` (express 5 / path-to-regexp 8 syntax). */
export function openapiPath(template: string): string {
  return template.replace(/\{([^}]*)\}/g, '$1').replace(/[:*]([A-Za-z_$][A-Za-z0-9_$]*)/g, '{$1}');
}

/** The path parameter names of an express template. */
export function pathParams(template: string): string[] {
  return [...template.matchAll(/[:*]([A-Za-z_$][A-Za-z0-9_$]*)/g)].map((m) => m[1]!);
}

/** Error codes of every registry, by owner. */
function registryByOwner(): Map<string, { code: string; spec: ErrorSpec }[]> {
  const out = new Map<string, { code: string; spec: ErrorSpec }[]>();
  for (const { code, owner, spec } of registeredErrorCodes()) {
    let list = out.get(owner);
    if (!list) out.set(owner, (list = []));
    list.push({ code, spec });
  }
  return out;
}

/** The Problem schema (RFC 9457 as Gantry sends it), shared by every error response. */
export const PROBLEM_SCHEMA: Json = {
  type: 'object',
  description: 'An RFC 9457 problem document; `code` is the stable Gantry error code',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', examples: ['urn:gantry:problem:GANTRY_HTTP_VALIDATION'] },
    title: { type: 'string' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    detail: { type: 'string' },
    code: { type: 'string', pattern: '^GANTRY_[A-Z0-9]+(_[A-Z0-9]+)*$' },
    instance: { type: 'string' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      description: 'The invalid fields of a 400 (GANTRY_HTTP_VALIDATION)',
      items: {
        type: 'object',
        required: ['in', 'field', 'message', 'code'],
        properties: {
          in: { enum: ['params', 'query', 'body'] },
          field: { type: 'string' },
          message: { type: 'string' },
          code: { type: 'string' },
        },
      },
    },
  },
  additionalProperties: true,
};

const RATE_LIMIT_HEADER_DEFS: Json = {
  RateLimit: {
    description: 'What is left of the budget of this policy (IETF draft-8: `"<policy>";r=<remaining>;t=<seconds>`)',
    schema: { type: 'string' },
  },
  'RateLimit-Policy': {
    description: 'The policy: `"<policy>";q=<limit>;w=<window seconds>`',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'string' } },
};

/** The RateLimit headers of a response (new objects each time: a route's `meta.openapi` may add to them). */
function rateLimitHeaders(): Json {
  return {
    RateLimit: { $ref: '#/components/headers/RateLimit' },
    'RateLimit-Policy': { $ref: '#/components/headers/RateLimit-Policy' },
  };
}

/**
 * Builds the OpenAPI 3.1 document from the routes: schemas from zod (`z.toJSONSchema`, 2020-12),
 * security from `meta`, and for every operation the error statuses it can answer, derived from its
 * declaration, its guards and its plugin's error registry.
 */
export function generateDocument(input: GenerateInput): Json {
  const registry = registryByOwner();
  const defs: Record<string, unknown> = {};
  const convert = (schema: ZodType | undefined, io: 'input' | 'output', where: string): Json | undefined => {
    if (!schema) return undefined;
    return toJsonSchema(schema, io, where, defs, input.onUnrepresentable);
  };
  const bearer = input.plugins.includes('auth-jwt');
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  const ids = new Set<string>();
  // operationIds must be unique: `/a-b` and `/a/b` would both read `getAB`.
  const uniqueId = (id: string): string => {
    let out = id;
    for (let n = 2; ids.has(out); n++) out = `${id}${n}`;
    ids.add(out);
    return out;
  };

  for (const route of input.routes) {
    const where = `${route.method} ${route.path}`;
    const path = openapiPath(route.path);
    const operation: Json = {
      operationId: uniqueId(operationId(route)),
      summary: route.summary,
      description: route.description,
      tags: route.tags?.length ? [...route.tags] : [route.plugin],
    };
    for (const t of operation.tags as string[]) tags.add(t);

    // Parameters: path ones are always there (string when the route has no params schema).
    const parameters: Json[] = [];
    const params = convert(route.schema?.params, 'input', `${where} params`);
    for (const name of pathParams(route.path)) {
      const schema = (params?.properties as Record<string, unknown> | undefined)?.[name] ?? { type: 'string' };
      parameters.push({ name, in: 'path', required: true, schema });
    }
    const query = convert(route.schema?.query, 'input', `${where} query`);
    if (query?.properties) {
      const required = new Set((query.required as string[] | undefined) ?? []);
      for (const [name, schema] of Object.entries(query.properties as Record<string, Json>)) {
        parameters.push({
          name,
          in: 'query',
          required: required.has(name),
          ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
          schema,
        });
      }
    }
    if (parameters.length) operation.parameters = parameters;

    const body = convert(route.schema?.body, 'input', `${where} body`);
    if (body && route.acceptsBody) {
      operation.requestBody = {
        required: route.schema?.body?.safeParse(undefined).success !== true,
        content: { 'application/json': { schema: body } },
      };
    }

    // Security: public → [], otherwise each credential the route accepts (a cookie needs the CSRF
    // header on unsafe methods).
    const needsAuth = requiresAuthentication(route);
    const security: Json[] = [];
    // `meta.auth: 'optional'` (GraphQL): anonymous callers too ({}), or any credential the route accepts.
    const optional = route.meta.auth === 'optional';
    if (needsAuth || optional) {
      if (optional) security.push({});
      if (bearer && acceptsCredential(route, 'bearer')) security.push({ bearerAuth: [] });
      if (input.session && acceptsCredential(route, 'session'))
        security.push(SAFE.has(route.method) ? { sessionCookie: [] } : { sessionCookie: [], csrfHeader: [] });
      if (optional && security.length === 1) security.length = 0;
    }
    operation.security = security;
    const permission = route.meta.permission;
    if (needsAuth && permission !== undefined) {
      operation['x-gantry-permission'] = permission;
      const list = (Array.isArray(permission) ? permission : [permission]).map(String);
      const line = list.includes('authenticated')
        ? 'Needs a signed-in caller.'
        : `Needs the permission${list.length > 1 ? 's' : ''} ${list.map((p) => `\`${p}\``).join(', ')}.`;
      operation.description = operation.description ? `${operation.description}\n\n${line}` : line;
    }

    // Responses.
    const policy = route.guards.some((g) => g.plugin === 'rate-limit') ? input.policyFor?.(route) : undefined;
    const responses: Record<string, Json> = {};
    const success = convert(route.schema?.response, 'output', `${where} response`);
    responses[String(route.status)] = {
      description: route.summary ?? 'Success',
      ...(policy ? { headers: rateLimitHeaders() } : {}),
      ...(success ? { content: { 'application/json': { schema: success } } } : {}),
    };
    // A handler that returns nothing answers 204 (a 200 route that returned undefined).
    if (route.status === 200 && !success && route.method !== 'GET')
      responses['204'] = { description: 'Done, no content', ...(policy ? { headers: rateLimitHeaders() } : {}) };

    const errors = new Map<number, Set<string>>();
    const add = (status: number, ...codes: string[]): void => {
      let set = errors.get(status);
      if (!set) errors.set(status, (set = new Set()));
      for (const c of codes) set.add(c);
    };
    // Every route refuses NUL and lone surrogates in its params and query, and validates what it declares.
    add(400, 'GANTRY_HTTP_VALIDATION');
    if (route.acceptsBody) {
      add(400, 'GANTRY_HTTP_MALFORMED_JSON');
      add(413, 'GANTRY_HTTP_PAYLOAD_TOO_LARGE');
      if (route.schema?.body) add(415, 'GANTRY_HTTP_UNSUPPORTED_MEDIA_TYPE');
    }
    if (needsAuth) add(401, 'GANTRY_HTTP_UNAUTHENTICATED');
    if (needsAuth && permission !== undefined && permission !== 'authenticated') add(403);
    if (pathParams(route.path).length > 0) add(404);
    if (policy) add(429);
    if ((policy && !policy.failOpen) || needsAuth || input.hasCriticalCheck(route.plugin)) add(503);
    // Each plugin guarding the route (authenticators, rbac, rate-limit): the refusals of its registry.
    for (const guard of route.guards) {
      if (guard.plugin === 'http') continue;
      for (const { code, spec } of registry.get(guard.plugin) ?? []) {
        const refusal = spec.status === 401 || spec.status === 403 || spec.status === 429 || spec.status === 503;
        if (!refusal || (spec.status === 401 && !needsAuth)) continue;
        // CSRF and a bare 403 are only answered where they apply.
        if (spec.status === 403 && !(needsAuth && (permission !== undefined || !SAFE.has(route.method)))) continue;
        if (spec.status === 503 && guard.plugin.startsWith('rate-limit') && policy?.failOpen) continue;
        add(spec.status, code);
      }
    }
    // The route's own plugin: every client error (and 503) its registry declares.
    // (The HTTP layer's own codes are derived above: its registry is every route's, not its routes'.)
    for (const { code, spec } of route.plugin === 'http' ? [] : (registry.get(route.plugin) ?? [])) {
      if ((spec.status >= 400 && spec.status < 500) || spec.status === 503) add(spec.status, code);
    }

    for (const status of [...errors.keys()].sort((a, b) => a - b)) {
      const codes = [...errors.get(status)!].filter((c) => registeredCode(registry, c)).sort();
      const headers: Json = {};
      if (status === 429) Object.assign(headers, rateLimitHeaders(), retryAfter());
      if (status === 401) headers['WWW-Authenticate'] = { schema: { type: 'string' } };
      if (status === 503) Object.assign(headers, retryAfter());
      responses[String(status)] = {
        description: `${REASON[status] ?? 'Refused'}${codes.length ? `. Codes: ${codes.map((c) => `\`${c}\``).join(', ')}` : ''}`,
        ...(Object.keys(headers).length ? { headers } : {}),
        content: {
          'application/problem+json': {
            schema: { allOf: [PROBLEM_REF, { properties: { status: { const: status } } }] },
            ...(codes[0] ? { example: exampleProblem(status, codes[0], registry, path) } : {}),
          },
        },
      };
    }
    if (policy)
      operation['x-gantry-rate-limit'] = { policy: policy.name, limit: policy.limit, windowMs: policy.windowMs };
    operation.responses = responses;
    // A route's own additions (e.g. the media type of a body that is not JSON): facts are kept, prose replaced.
    if (isObject(route.meta.openapi)) deepMerge(operation, structuredClone(route.meta.openapi));

    let item = paths[path];
    if (!item) paths[path] = item = {};
    item[route.method.toLowerCase()] = dropUndefined(operation);
  }

  const securitySchemes: Json = {};
  if (bearer)
    securitySchemes.bearerAuth = {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: 'The access token of POST /auth/login (auth-jwt)',
    };
  if (input.session) {
    securitySchemes.sessionCookie = {
      type: 'apiKey',
      in: 'cookie',
      name: input.session.cookie,
      description: 'The session cookie of a browser sign-in (sessions-redis)',
    };
    securitySchemes.csrfHeader = {
      type: 'apiKey',
      in: 'header',
      name: input.session.csrfHeader,
      description: 'The csrfToken of the sign-in (or of GET /auth/csrf), required with the cookie on unsafe methods',
    };
  }

  // A copy without shared parts (a JSON round trip; structuredClone would keep them shared): the
  // Problem schema and header objects used by many operations must not be changed for all of them by
  // an annotation merged into one, nor frozen by the store for the next document built in the process.
  return JSON.parse(
    JSON.stringify(
      dropUndefined({
        openapi: '3.1.1',
        jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
        info: dropUndefined({ ...input.info }),
        ...(input.servers.length ? { servers: input.servers.map((url) => ({ url })) } : {}),
        tags: [...tags].sort().map((name) => ({ name })),
        paths: sortKeys(paths),
        components: {
          schemas: { Problem: PROBLEM_SCHEMA, ...defs },
          headers: RATE_LIMIT_HEADER_DEFS,
          ...(Object.keys(securitySchemes).length ? { securitySchemes } : {}),
        },
      }),
    ),
  ) as Json;
}

function retryAfter(): Json {
  return { 'Retry-After': { $ref: '#/components/headers/Retry-After' } };
}

function registeredCode(registry: Map<string, { code: string }[]>, code: string): boolean {
  for (const list of registry.values()) if (list.some((e) => e.code === code)) return true;
  return false;
}

function exampleProblem(
  status: number,
  code: string,
  registry: Map<string, { code: string; spec: ErrorSpec }[]>,
  instance: string,
): Json {
  let title = REASON[status] ?? 'Refused';
  for (const list of registry.values()) {
    const found = list.find((e) => e.code === code);
    if (found) title = found.spec.title;
  }
  return { type: `urn:gantry:problem:${code}`, title, status, detail: title, code, instance };
}

function operationId(route: RouteDefinition): string {
  const words = route.path
    .split('/')
    .filter(Boolean)
    .map((w) => (w.startsWith(':') || w.startsWith('*') ? `by-${w.slice(1)}` : w));
  const id = [route.method.toLowerCase(), ...words]
    .join('-')
    .replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ? c.toUpperCase() : ''));
  return id;
}

/**
 * zod → JSON Schema 2020-12 (the dialect of OpenAPI 3.1). What JSON Schema cannot express (dates,
 * transforms' outputs, custom refinements) becomes `{}` (any), and is reported; `$defs` (recursive
 * or registered schemas) move to components.schemas so their `$ref`s resolve in the document.
 */
function toJsonSchema(
  schema: ZodType,
  io: 'input' | 'output',
  where: string,
  defs: Record<string, unknown>,
  onUnrepresentable?: (where: string) => void,
): Json {
  let out: Json;
  try {
    out = z.toJSONSchema(schema, {
      target: 'draft-2020-12',
      io,
      unrepresentable: 'any',
      override: (ctx) => {
        const def = (ctx.zodSchema as { _zod?: { def?: { type?: string } } })._zod?.def;
        if (def?.type && UNREPRESENTABLE.has(def.type)) onUnrepresentable?.(`${where} (${def.type})`);
      },
    }) as Json;
  } catch {
    onUnrepresentable?.(where);
    return {};
  }
  delete out.$schema;
  const local = out.$defs as Record<string, unknown> | undefined;
  if (local) {
    delete out.$defs;
    const prefix = where.replace(/[^A-Za-z0-9]+/g, '_');
    for (const [name, value] of Object.entries(local)) defs[`${prefix}_${name}`] = value;
    out = JSON.parse(
      JSON.stringify(out).replace(
        /"#\/\$defs\/([^"]+)"/g,
        (_m, name: string) => `"#/components/schemas/${prefix}_${name}"`,
      ),
    ) as Json;
    for (const name of Object.keys(local))
      defs[`${prefix}_${name}`] = JSON.parse(
        JSON.stringify(defs[`${prefix}_${name}`]).replace(
          /"#\/\$defs\/([^"]+)"/g,
          (_m, n: string) => `"#/components/schemas/${prefix}_${n}"`,
        ),
      );
  }
  return out;
}

const UNREPRESENTABLE = new Set([
  'date',
  'bigint',
  'symbol',
  'undefined',
  'void',
  'map',
  'set',
  'function',
  'custom',
  'nan',
]);

function dropUndefined<T extends Json>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
