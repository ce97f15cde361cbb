// The openapi plugin on its own: a route added by a tiny plugin appears in the document with its
// schemas, auth, rate limit and errors with no line written for it; annotations add prose and never
// remove a generated fact; the routes obey `enabled` and `access`.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { definePlugin } from '@gantry/core';
import { HttpServerToken, plugin as httpPlugin } from '@gantry/http';
import { AuthJwtToken, plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as rateLimitPlugin } from '@gantry/plugin-rate-limit';
import { createTestKernel, permissionStandIn, type TestKernel } from '@gantry/testing';
import { Validator } from '@seriousme/openapi-schema-validator';
import { expect } from 'chai';
import { z } from 'zod';
import { OpenapiToken, plugin as openapiPlugin, type OpenapiOptions } from '../src/index.js';

type Json = Record<string, any>;

/** A plugin that knows nothing of OpenAPI: one guarded route with params, query and body schemas. */
const widgets = definePlugin({
  name: 'widgets',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.put(
      '/widgets/:id',
      {
        summary: 'Replace a widget',
        tags: ['widgets'],
        schema: {
          params: z.object({ id: z.uuid() }),
          query: z.object({ dryRun: z.enum(['yes', 'no']).optional() }),
          body: z.object({ name: z.string().min(1).max(50), size: z.number().int().positive() }).strict(),
          response: z.object({ id: z.string(), name: z.string(), size: z.number() }),
        },
        meta: { auth: true, permission: 'widgets:write' },
      },
      (req) => ({ id: req.params.id, ...req.body }),
    );
  },
});

async function boot(openapi: OpenapiOptions = {}): Promise<TestKernel> {
  return createTestKernel({
    plugins: [
      httpPlugin,
      rateLimitPlugin,
      authJwtPlugin,
      permissionStandIn((p, perm) => p.id === 'writer' && perm === 'widgets:write'),
      widgets,
      openapiPlugin,
    ],
    config: {
      'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test', store: 'memory' },
      openapi: openapi as Record<string, unknown>,
    },
  });
}

describe('openapi plugin', function () {
  this.timeout(20_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-openapi-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("documents a plugin's route with its schemas, auth, rate limit and errors, with no line written for it", async () => {
    await using tk = await boot();
    const res = await tk.inject('/openapi.json');
    expect(res.statusCode).to.equal(200);
    const doc = JSON.parse(res.body) as Json;
    const op = doc.paths['/api/v1/widgets/{id}']?.put as Json;
    expect(op, 'the widget route is documented').to.not.equal(undefined);
    expect(op.summary).to.equal('Replace a widget');
    expect(op.tags).to.deep.equal(['widgets']);
    expect(op.parameters).to.deep.include({
      name: 'id',
      in: 'path',
      required: true,
      schema: op.parameters[0].schema,
    });
    expect(op.parameters[0].schema.format).to.equal('uuid');
    expect(op.parameters.find((p: Json) => p.name === 'dryRun')).to.deep.include({ in: 'query', required: false });
    const body = op.requestBody.content['application/json'].schema;
    expect(body.required).to.have.members(['name', 'size']);
    expect(body.properties.size).to.include({ type: 'integer', exclusiveMinimum: 0 });
    expect(body.additionalProperties).to.equal(false);
    expect(op.responses['200'].content['application/json'].schema.required).to.have.members(['id', 'name', 'size']);
    expect(op.security).to.deep.equal([{ bearerAuth: [] }]);
    expect(op['x-gantry-permission']).to.equal('widgets:write');
    expect(op['x-gantry-rate-limit']).to.include({ policy: 'default' });
    expect(Object.keys(op.responses)).to.include.members([
      '200',
      '400',
      '401',
      '403',
      '404',
      '413',
      '415',
      '429',
      '503',
    ]);
    for (const status of ['400', '401', '403', '404', '429'])
      expect(op.responses[status].content['application/problem+json'].schema.allOf[0]).to.deep.equal({
        $ref: '#/components/schemas/Problem',
      });
    expect(op.responses['429'].headers).to.have.keys(['RateLimit', 'RateLimit-Policy', 'Retry-After']);
    expect(op.responses['401'].description).to.contain('GANTRY_AUTH_JWT_INVALID_TOKEN');
    expect(doc.components.securitySchemes.bearerAuth).to.include({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    // Public routes say so.
    expect(doc.paths['/healthz'].get.security).to.deep.equal([]);
    expect(doc.paths['/healthz'].get.responses).to.not.have.property('401');

    const validation = await new Validator().validate(doc);
    expect(validation.valid, JSON.stringify(validation.errors, null, 1)).to.equal(true);

    // The document is built once: the YAML is the same document, and the object served is the stored one.
    expect(tk.get(OpenapiToken).json()).to.equal(res.body);
    const yaml = await tk.inject('/openapi.yaml');
    expect(yaml.headers['content-type']).to.match(/^application\/yaml/);
    expect(yaml.body).to.contain('/api/v1/widgets/{id}:');
  });

  it('answers as documented: the route guards are the ones the document lists', async () => {
    await using tk = await boot();
    const id = '5b0c3c61-54a1-4c9e-8b4b-0f6c3b1e2a10';
    const anon = await tk.inject({ method: 'PUT', url: `/api/v1/widgets/${id}`, payload: { name: 'a', size: 1 } });
    expect(anon.statusCode).to.equal(401);
    const { accessToken } = await tk.get(AuthJwtToken).issuePair('reader');
    const denied = await tk.inject({
      method: 'PUT',
      url: `/api/v1/widgets/${id}`,
      headers: { authorization: `Bearer ${accessToken}` },
      payload: { name: 'a', size: 1 },
    });
    expect(denied.statusCode).to.equal(403);
    const writer = (await tk.get(AuthJwtToken).issuePair('writer')).accessToken;
    const ok = await tk.inject({
      method: 'PUT',
      url: `/api/v1/widgets/${id}`,
      headers: { authorization: `Bearer ${writer}` },
      payload: { name: 'a', size: 1 },
    });
    expect(ok.statusCode).to.equal(200);
    expect(ok.headers).to.have.property('ratelimit');
  });

  it('merges @openapi annotations: prose and examples are added, generated facts stay, unknown operations are ignored', async () => {
    const file = path.join(dir, 'widgets-docs.js');
    writeFileSync(
      file,
      `/**
 * @openapi
 * /api/v1/widgets/{id}:
 *   put:
 *     description: Replaces every field of the widget.
 *     requestBody:
 *       content:
 *         application/json:
 *           schema:
 *             type: string
 *           example: { name: bolt, size: 3 }
 *     responses:
 *       409:
 *         description: Another write won the race.
 *       200:
 *         headers:
 *           X-Trace-Hint:
 *             schema: { type: string }
 * /api/v1/not-a-route:
 *   get:
 *     description: nobody serves this
 */
export {};
`,
    );
    // Twice in one process: what the first merge added stays in the first document only. The second
    // boot takes the annotations from the cache the first one wrote (a folder of this test's own).
    const annotationsCache = path.join(dir, 'annotations-cache');
    await using first = await boot({ apis: [file], annotationsCache });
    expect(readdirSync(annotationsCache), 'the first boot wrote the cache').to.have.length(1);
    await using tk = await boot({ apis: [file], annotationsCache });
    expect(JSON.stringify(first.get(OpenapiToken).document())).to.equal(
      JSON.stringify(tk.get(OpenapiToken).document()),
    );
    const doc = tk.get(OpenapiToken).document() as Json;
    const op = doc.paths['/api/v1/widgets/{id}'].put;
    expect(op.description).to.equal('Replaces every field of the widget.');
    const json = op.requestBody.content['application/json'];
    expect(json.example).to.deep.equal({ name: 'bolt', size: 3 });
    expect(json.schema.type, 'the generated schema is kept').to.equal('object');
    expect(op.responses['409'].description).to.equal('Another write won the race.');
    expect(op.responses['401'], 'generated responses stay').to.not.equal(undefined);
    expect(op.responses['200'].headers).to.have.keys(['RateLimit', 'RateLimit-Policy', 'X-Trace-Hint']);
    const other = doc.paths['/openapi.json'].get.responses['200'];
    expect(other.headers, 'no other operation gained it').to.not.have.property('X-Trace-Hint');
    expect(doc.paths).to.not.have.property('/api/v1/not-a-route');
  });

  it('documents what JSON Schema cannot express as any value, and says so', async () => {
    const dated = definePlugin({
      name: 'dated',
      version: '0.1.0',
      kernel: '^0.1.0',
      dependsOn: ['http'],
      register(ctx) {
        ctx.http.post(
          '/events',
          {
            schema: { body: z.object({ at: z.date(), label: z.string().transform((v) => v.length) }) },
            meta: { auth: true, permission: 'widgets:write' },
          },
          () => ({}),
        );
      },
    });
    await using tk = await createTestKernel({
      plugins: [httpPlugin, authJwtPlugin, permissionStandIn(() => true), dated, openapiPlugin],
      config: { 'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test', store: 'memory' } },
    });
    const docs = tk.get(OpenapiToken);
    const body = (docs.document() as Json).paths['/api/v1/events'].post.requestBody.content['application/json'].schema;
    expect(body.properties.at).to.deep.equal({});
    expect(body.properties.label, 'a transform documents its input').to.deep.equal({ type: 'string' });
    expect(docs.unrepresentable()).to.deep.equal(['POST /api/v1/events body (date)']);
  });

  it('refuses the boot with a coded error when an annotation is not valid YAML', async () => {
    const file = path.join(dir, 'broken.js');
    writeFileSync(file, '/**\n * @openapi\n * /x:\n *   get: [unclosed\n */\n');
    const err = await boot({ apis: [file], annotationsCache: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as { cause?: { code?: string } }).cause?.code).to.equal('GANTRY_OPENAPI_ANNOTATIONS_INVALID');
  });

  it('serves Swagger UI self-hosted under a policy without inline scripts', async () => {
    await using tk = await boot();
    const page = await tk.inject('/docs');
    expect(page.statusCode).to.equal(200);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).to.contain("script-src 'self'");
    expect(csp).to.not.contain('unsafe-inline');
    expect(csp).to.not.contain('unsafe-eval');
    expect(page.body).to.not.match(/<script>(?!<)/);
    expect(page.body).to.not.match(/https?:\/\//);
    const bundle = await tk.inject('/docs/swagger-ui-bundle.js');
    expect(bundle.statusCode).to.equal(200);
    expect(bundle.headers['content-type']).to.match(/javascript/);
    expect((await tk.inject('/docs/package.json')).statusCode, 'only the listed files').to.equal(400);
    const init = await tk.inject('/docs/swagger-initializer.js');
    expect(init.body).to.contain('"url":"/openapi.json"').and.contain('"persistAuthorization":false');
  });

  it('registers nothing when disabled, and protects the document when access names a permission', async () => {
    {
      await using tk = await boot({ enabled: false });
      expect((await tk.inject('/openapi.json')).statusCode).to.equal(404);
      expect((await tk.inject('/docs')).statusCode).to.equal(404);
      expect(
        tk
          .get(HttpServerToken)
          .definitions()
          .some((r) => r.plugin === 'openapi'),
      ).to.equal(false);
    }
    await using tk = await boot({ access: { permission: 'docs:read' } });
    expect((await tk.inject('/openapi.json')).statusCode, 'not at the root').to.equal(404);
    expect((await tk.inject('/api/v1/openapi.json')).statusCode).to.equal(401);
    const reader = (await tk.get(AuthJwtToken).issuePair('reader')).accessToken;
    const refused = await tk.inject({ url: '/api/v1/openapi.json', headers: { authorization: `Bearer ${reader}` } });
    expect(refused.statusCode).to.equal(403);
    const doc = tk.get(OpenapiToken).document() as Json;
    expect(doc.paths['/api/v1/openapi.json'].get['x-gantry-permission']).to.equal('docs:read');
    const init = await tk.inject({
      url: '/api/v1/docs/swagger-initializer.js',
      headers: { authorization: `Bearer ${reader}` },
    });
    expect(init.statusCode).to.equal(403);
  });
});
