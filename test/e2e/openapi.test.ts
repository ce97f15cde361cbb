// The sandbox's OpenAPI document against the sandbox itself: every registered route is in the
// document and every documented operation is a route (computed from the HTTP layer, not listed);
// the document validates with a maintained OpenAPI 3.1 validator; and the journey (sign-up, verify,
// login, /users/me, notes CRUD, admin routes, errors) is replayed with each real response checked
// against the document's schema for that route and status (ajv, JSON Schema 2020-12).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpServerToken } from '@gantry/http';
import { OpenapiToken } from '@gantry/plugin-openapi';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { expect } from 'chai';
import type { Response } from 'light-my-request';
import { simpleParser } from 'mailparser';
import { bootSandboxKernel, type SandboxKernel } from '../support/sandbox-kernel.js';

type Json = Record<string, any>;
const PW = 'Correct-Horse-Battery-9';

/** A JSON pointer segment. */
const seg = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

describe('sandbox OpenAPI document (in-process sandbox)', function () {
  this.timeout(60_000);
  let sandbox: SandboxKernel;
  let dir: string;
  let doc: Json;
  let ajv: InstanceType<typeof Ajv2020>;
  let operations: { method: string; template: string; re: RegExp; params: number }[];
  const checked = { responses: 0, bodies: 0, statuses: new Set<string>() };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-openapi-e2e-'));
    sandbox = await bootSandboxKernel({ GANTRY_MAILER__OUT_DIR: path.join(dir, 'mail') });
    const res = await sandbox.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).to.equal(200);
    doc = JSON.parse(res.body) as Json;
    ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
    (formats as unknown as (a: unknown) => void)(ajv);
    ajv.addSchema(doc, 'openapi.json');
    operations = Object.entries(doc.paths as Record<string, Json>)
      .flatMap(([template, item]) =>
        Object.keys(item).map((method) => ({
          method: method.toUpperCase(),
          template,
          re: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
          params: (template.match(/\{/g) ?? []).length,
        })),
      )
      // Literal paths before templated ones (/users/me before /users/{id}), as the router decides.
      .sort((a, b) => a.params - b.params);
  });
  after(async () => {
    await sandbox?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every registered route, and every documented operation is a route', () => {
    const registered = sandbox.kernel.container
      .get(HttpServerToken)
      .definitions()
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_$][A-Za-z0-9_$]*)/g, '{$1}')}`)
      .sort();
    const documented = Object.entries(doc.paths as Record<string, Json>)
      .flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    expect(registered.length).to.be.greaterThan(30);
    expect(documented).to.deep.equal(registered);
    const unrepresentable = sandbox.kernel.container.get(OpenapiToken).unrepresentable();
    console.log(
      `      routes registered: ${registered.length}, operations in the document: ${documented.length}, schemas documented as "any": ${unrepresentable.length}`,
    );
  });

  it('is a valid OpenAPI 3.1 document (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.valid, JSON.stringify(result.errors, null, 1)).to.equal(true);
    expect(validator.version).to.match(/^3\.1/);
  });

  it('merges the @openapi annotation beside the notes handler, keeping the generated schema', () => {
    const create = doc.paths['/api/v1/notes'].post;
    expect(create.description).to.match(/^Creates a note owned by the caller/);
    expect(create.requestBody.content['application/json'].example).to.deep.equal({
      title: 'Groceries',
      body: 'Milk, bread',
    });
    expect(create.requestBody.content['application/json'].schema.required).to.deep.equal(['title']);
    expect(create.responses['201'].content['application/json'].schema.required).to.include('ownerId');
  });

  /** Checks one real response against the document: its status must be documented, its body must match. */
  function conforms(method: string, url: string, res: Response): void {
    const pathname = new URL(url, 'http://sandbox').pathname;
    const op = operations.find((o) => o.method === method && o.re.test(pathname));
    expect(op, `${method} ${pathname} is not in the document`).to.not.equal(undefined);
    const response = doc.paths[op!.template][method.toLowerCase()].responses[String(res.statusCode)] as
      | Json
      | undefined;
    expect(
      response,
      `${method} ${op!.template} answered ${res.statusCode}, which the document does not list`,
    ).to.not.equal(undefined);
    checked.responses++;
    checked.statuses.add(`${method} ${op!.template} ${res.statusCode}`);
    const type = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    if (!response!.content) return;
    const mediaKey = type in response!.content ? type : '*/*' in response!.content ? '*/*' : undefined;
    expect(mediaKey, `${method} ${op!.template} ${res.statusCode} answered ${type}, not documented`).to.not.equal(
      undefined,
    );
    if (!type.endsWith('json') || !response!.content[mediaKey!].schema) return;
    const pointer = `openapi.json#/paths/${seg(op!.template)}/${method.toLowerCase()}/responses/${res.statusCode}/content/${seg(mediaKey!)}/schema`;
    const validate = ajv.getSchema(pointer)!;
    const body = JSON.parse(res.body) as unknown;
    expect(
      validate(body),
      `${method} ${op!.template} ${res.statusCode}: ${ajv.errorsText(validate.errors)}\n${res.body}`,
    ).to.equal(true);
    checked.bodies++;
  }

  it('the check fails on a status or a body the document does not list', () => {
    const fake = (statusCode: number, body: unknown, type = 'application/problem+json'): Response =>
      ({ statusCode, headers: { 'content-type': type }, body: JSON.stringify(body) }) as unknown as Response;
    expect(() => conforms('GET', '/healthz', fake(418, {}))).to.throw(/does not list/);
    expect(() => conforms('GET', '/api/v1/users/me', fake(401, { status: 401 }))).to.throw(
      /must have required property/,
    );
    expect(() => conforms('GET', '/api/v1/nowhere', fake(200, {}))).to.throw(/not in the document/);
  });

  async function call(
    method: string,
    url: string,
    options: { token?: string; payload?: unknown; expect?: number } = {},
  ): Promise<{ status: number; body: any }> {
    const res = await sandbox.inject({
      method: method as 'GET',
      url,
      headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      ...(options.payload !== undefined ? { payload: options.payload as object } : {}),
    });
    conforms(method, url, res);
    if (options.expect !== undefined) expect(res.statusCode, `${method} ${url}: ${res.body}`).to.equal(options.expect);
    const json = /json/.test(String(res.headers['content-type'])) && res.body ? JSON.parse(res.body) : res.body;
    return { status: res.statusCode, body: json };
  }

  async function mailedToken(to: string): Promise<string> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const mailDir = path.join(dir, 'mail');
      for (const file of (() => {
        try {
          return readdirSync(mailDir).filter((f) => f.endsWith('.eml'));
        } catch {
          return [];
        }
      })()) {
        const mail = await simpleParser(readFileSync(path.join(mailDir, file)));
        const recipients = [mail.to]
          .flat()
          .flatMap((a) => a?.value ?? [])
          .map((a) => a.address);
        const token = /\?token=([A-Za-z0-9_-]+)/.exec(mail.text ?? '')?.[1];
        if (recipients.includes(to) && token) return token;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no mail to ${to}`);
  }

  it('every response of the journey matches the document (status and body)', async () => {
    const api = '/api/v1';
    checked.responses = 0;
    checked.bodies = 0;
    checked.statuses.clear();
    // Health, docs and public keys.
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/openapi.yaml', '/docs'])
      await call('GET', url, { expect: 200 });
    await call('GET', '/docs/swagger-ui.css', { expect: 200 });
    await call('GET', '/docs/not-a-file.js', { expect: 400 });
    await call('GET', '/.well-known/jwks.json', { expect: 200 });

    // Sign-up, refused sign-in before verification, verification, sign-in.
    const email = 'contract@example.com';
    await call('POST', `${api}/auth/signup`, { payload: { email, password: PW, name: 'Contract' }, expect: 201 });
    await call('POST', `${api}/auth/signup`, { payload: { email: 'not-an-address', password: 'x' }, expect: 400 });
    await call('POST', `${api}/auth/login`, { payload: { email, password: PW }, expect: 403 });
    const token = await mailedToken(email);
    await call('POST', `${api}/auth/verify-email`, { payload: { token }, expect: 204 });
    await call('POST', `${api}/auth/verify-email`, { payload: { token } });
    await call('POST', `${api}/auth/login`, { payload: { email, password: 'Wrong-Horse-Battery-9' }, expect: 401 });
    const login = await call('POST', `${api}/auth/login`, { payload: { email, password: PW }, expect: 200 });
    const access = login.body.accessToken as string;

    // The own profile.
    await call('GET', `${api}/users/me`, { token: access, expect: 200 });
    await call('GET', `${api}/users/me`, { expect: 401 });
    await call('GET', `${api}/users/me`, { token: 'not.a.jwt', expect: 401 });
    await call('PATCH', `${api}/users/me`, { token: access, payload: { name: 'Contract Two' }, expect: 200 });
    await call('PATCH', `${api}/users/me`, { token: access, payload: {}, expect: 400 });

    // Notes: create, list, read, change, delete; errors.
    const note = await call('POST', `${api}/notes`, {
      token: access,
      payload: { title: 'first', body: 'b' },
      expect: 201,
    });
    await call('POST', `${api}/notes`, { token: access, payload: { title: '' }, expect: 400 });
    await call('GET', `${api}/notes`, { token: access, expect: 200 });
    await call('GET', `${api}/notes/${note.body.id}`, { token: access, expect: 200 });
    await call('PATCH', `${api}/notes/${note.body.id}`, { token: access, payload: { title: 'second' }, expect: 200 });
    await call('GET', `${api}/notes/00000000-0000-4000-8000-000000000000`, { token: access, expect: 404 });
    await call('GET', `${api}/notes/not-a-uuid`, { token: access, expect: 400 });
    await call('GET', `${api}/notes?owner=all`, { token: access, expect: 403 });
    await call('DELETE', `${api}/notes/${note.body.id}`, { token: access, expect: 204 });
    await call('DELETE', `${api}/notes/${note.body.id}`, { token: access, expect: 404 });

    // Refresh rotation.
    await call('POST', `${api}/auth/refresh`, { payload: { refreshToken: login.body.refreshToken }, expect: 200 });
    await call('POST', `${api}/auth/refresh`, { payload: { refreshToken: 'garbage' } });

    // Administration, as a user (refused) and as an administrator.
    await call('GET', `${api}/users`, { token: access, expect: 403 });
    const admin = await sandbox.tokenFor('root@example.com', ['admin']);
    const users = await call('GET', `${api}/users`, { token: admin.token, expect: 200 });
    const someone = (users.body.items as { id: string; email: string }[]).find((u) => u.email === email)!;
    await call('GET', `${api}/users/${someone.id}`, { token: admin.token, expect: 200 });
    await call('GET', `${api}/users/00000000-0000-4000-8000-000000000000`, { token: admin.token, expect: 404 });
    await call('GET', `${api}/roles`, { token: admin.token, expect: 200 });
    await call('PUT', `${api}/users/${someone.id}/roles`, { token: admin.token, payload: { roles: ['user'] } });
    await call('GET', `${api}/audit?limit=5`, { token: admin.token, expect: 200 });
    await call('GET', `${api}/audit?limit=0`, { token: admin.token, expect: 400 });
    await call('GET', `${api}/auth/sessions`, { token: access });

    // Sign-out.
    await call('POST', `${api}/auth/logout`, { token: access, expect: 204 });

    expect(checked.responses).to.be.greaterThan(40);
    console.log(
      `      responses validated: ${checked.responses} (${checked.bodies} bodies against a schema), ${checked.statuses.size} distinct route/status pairs`,
    );
  });
});
