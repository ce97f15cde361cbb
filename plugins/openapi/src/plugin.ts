import {
  definePlugin,
  HealthRegistryToken,
  KernelInfoToken,
  packageVersion,
  type Container,
  type HttpRouter,
  type Logger,
} from '@gantry/core';
import path from 'node:path';
import { HttpServerToken } from '@gantry/http';
import { z } from 'zod';
import { mergeAnnotations, readAnnotations } from './annotations.js';
import { openapiConfigSchema, type OpenapiConfig } from './config.js';
import { DocumentStore } from './documents.js';
import { OpenapiErrors } from './errors.js';
import { generateDocument, type GenerateInput, type PolicyFacts } from './generate.js';
import { OpenapiToken } from './tokens.js';
import { SwaggerUi, UI_FILES } from './ui.js';

/** The `openapi` plugin: the OpenAPI 3.1 document of every route, and Swagger UI. */
export const plugin = definePlugin({
  name: 'openapi',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'OpenAPI 3.1 document built from the registered routes (zod schemas, auth, errors, rate limits) and @openapi JSDoc prose, served as JSON and YAML with a self-hosted Swagger UI',
  dependsOn: ['http'],
  // After the plugins whose facts the document states (security schemes, policies), when enabled.
  optionalDependsOn: ['rate-limit', 'auth-jwt', 'sessions-redis', 'rbac'],
  requires: [HttpServerToken],
  provides: [OpenapiToken],
  config: openapiConfigSchema,
  validate(config, { plugins }) {
    if (config.access !== 'public' && !plugins.includes('auth-jwt') && !plugins.includes('sessions-redis'))
      return [
        OpenapiErrors.ACCESS_UNGUARDED(
          `plugin "openapi" is protected (access ${JSON.stringify(config.access)}) but no authenticator is enabled`,
        ),
      ];
    return [];
  },
  register(ctx) {
    const { config } = ctx;
    const store = new DocumentStore();
    ctx.provide(OpenapiToken, store);
    const plugins = ctx.container.get(KernelInfoToken).plugins;
    const server = ctx.container.get(HttpServerToken);

    let ui: SwaggerUi | undefined;
    if (config.enabled) registerRoutes(ctx.http, config, plugins, store, () => ui);

    // Non-critical: without its document the API still serves; the check says whether it was built.
    ctx.health.check(
      () => {
        const built = store.counts();
        return built
          ? { status: 'up', details: { operations: built.operations, unrepresentable: built.unrepresentable } }
          : { status: 'degraded', details: { document: 'not built' } };
      },
      { critical: false },
    );

    ctx.lifecycle.hook({
      name: 'document',
      // Every plugin has registered its routes: the document is built once, here, never per request.
      start: async () => {
        const routes = server.definitions();
        const ours = routes.filter((r) => r.plugin === ctx.name);
        const jsonPath = ours.find((r) => r.path.endsWith('/openapi.json'))?.path ?? '/openapi.json';
        const docsPath = ours.find((r) => r.path.endsWith('/docs'))?.path ?? '/docs';
        const unrepresentable: string[] = [];
        const input: GenerateInput = {
          routes,
          info: { title: config.title, version: config.version, description: config.description },
          servers: config.servers,
          plugins,
          policyFor: await policyLookup(ctx.container, plugins),
          hasCriticalCheck: criticalChecks(ctx.container),
          session: plugins.includes('sessions-redis')
            ? { cookie: config.sessionCookie, csrfHeader: (await import('@gantry/plugin-sessions-redis')).CSRF_HEADER }
            : undefined,
          onUnrepresentable: (where) => unrepresentable.push(where),
        };
        const document = generateDocument(input);
        const read = await readAnnotations(config.apis, ctx.appDir, {
          dir: annotationsCacheDir(config.annotationsCache, ctx.appDir),
          onSkip: (reason) => ctx.logger.debug({ reason }, 'OpenAPI annotations cache not used'),
        });
        const report = mergeAnnotations(document, read.annotations);
        reportOutcome(ctx.logger, { paths: Object.keys(document.paths as object).length, report, unrepresentable });
        store.set(document, unrepresentable);
        if (config.enabled && config.ui)
          ui = new SwaggerUi({
            specUrl: jsonPath,
            docsPath,
            persistAuthorization: config.persistAuthorization,
            title: config.title,
          });
      },
    });
  },
});

function registerRoutes(
  http: HttpRouter,
  config: OpenapiConfig,
  plugins: readonly string[],
  store: DocumentStore,
  ui: () => SwaggerUi | undefined,
): void {
  const declared = config.access;
  const isPublic = declared === 'public';
  const access: Record<string, unknown> =
    declared === 'public'
      ? { public: true }
      : declared === 'authenticated'
        ? { auth: true, ...(plugins.includes('rbac') ? { permission: 'authenticated' } : {}) }
        : { auth: true, permission: declared.permission };
  const meta = { ...access, ...(config.rateLimit === false ? { rateLimit: false } : { rateLimit: config.rateLimit }) };
  // Public: at the server root (/openapi.json, /docs). Protected: under the API base path, where the
  // authenticators and rbac guard routes (root routes are never authenticated).
  const common = { root: isPublic, tags: ['docs'], meta };
  http.get(
    '/openapi.json',
    {
      ...common,
      summary: 'The OpenAPI 3.1 document of this API',
      schema: {
        response: z.looseObject({
          openapi: z.string(),
          info: z.looseObject({}),
          paths: z.record(z.string(), z.unknown()),
        }),
      },
    },
    (_req, reply) => {
      reply.type('application/json; charset=utf-8');
      return store.json();
    },
  );
  http.get(
    '/openapi.yaml',
    {
      ...common,
      summary: 'The OpenAPI 3.1 document of this API, in YAML',
      meta: {
        ...meta,
        openapi: { responses: { 200: { content: { 'application/yaml': { schema: { type: 'string' } } } } } },
      },
    },
    (_req, reply) => {
      reply.type('application/yaml; charset=utf-8');
      return store.yaml();
    },
  );
  if (!config.ui) return;
  http.get(
    '/docs',
    {
      ...common,
      summary: 'Swagger UI: browse the API and try it out',
      meta: { ...meta, openapi: { responses: { 200: { content: { 'text/html': { schema: { type: 'string' } } } } } } },
    },
    (_req, reply) => {
      const page = ui();
      if (!page) throw OpenapiErrors.NOT_BUILT('Swagger UI is set up when the application starts');
      reply.header('Content-Security-Policy', page.csp).type('text/html; charset=utf-8');
      return page.html;
    },
  );
  http.get(
    '/docs/:file',
    {
      ...common,
      summary: 'A file of the Swagger UI page (swagger-ui-dist, self-hosted)',
      schema: { params: z.object({ file: z.enum(UI_FILES) }) },
      meta: { ...meta, openapi: { responses: { 200: { content: { '*/*': { schema: { type: 'string' } } } } } } },
    },
    (req, reply) => {
      const asset = ui()?.asset(req.params.file);
      if (!asset) throw OpenapiErrors.NOT_BUILT('Swagger UI is set up when the application starts');
      reply.header('Cache-Control', 'public, max-age=3600').type(asset.type);
      return asset.body;
    },
  );
}

/** The rate-limit policy of a route, when rate-limit is enabled (an optional peer, loaded only then). */
async function policyLookup(container: Container, plugins: readonly string[]): Promise<GenerateInput['policyFor']> {
  if (!plugins.includes('rate-limit')) return undefined;
  const { RateLimitsToken } = await import('@gantry/plugin-rate-limit');
  const limits = container.get(RateLimitsToken);
  const byName = new Map(limits.policies().map((p) => [p.name, p]));
  return (route): PolicyFacts | undefined => {
    const name = limits.policyFor(route);
    const p = name === undefined ? undefined : byName.get(name);
    return p && { name: p.name, limit: p.limit, windowMs: p.windowMs, failOpen: p.failOpen };
  };
}

function criticalChecks(container: Container): (plugin: string) => boolean {
  const health = container.get(HealthRegistryToken);
  return (plugin) => health.byPlugin(plugin).some((c) => c.critical);
}

/** Where the annotations cache goes: the `annotationsCache` option resolved against the application. */
export function annotationsCacheDir(option: OpenapiConfig['annotationsCache'], appDir: string): string | false {
  if (option === false) return false;
  return option === true ? path.join(appDir, 'node_modules', '.cache', 'gantry-openapi') : path.resolve(appDir, option);
}

function reportOutcome(
  logger: Logger,
  facts: { paths: number; report: ReturnType<typeof mergeAnnotations>; unrepresentable: readonly string[] },
): void {
  if (facts.report.ignored.length)
    logger.warn(
      { operations: facts.report.ignored },
      '@openapi annotations describe operations no route serves: ignored (the document lists exactly the routes)',
    );
  if (facts.unrepresentable.length)
    logger.warn(
      { schemas: facts.unrepresentable },
      'zod schemas JSON Schema cannot express are documented as "any value" (the server still validates them)',
    );
  logger.info({ paths: facts.paths, annotated: facts.report.merged }, `OpenAPI document built: ${facts.paths} paths`);
}
