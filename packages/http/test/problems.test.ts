import { CoreErrors, defineErrors, definePlugin, type Plugin } from '@gantry/core';
import { expect } from 'chai';
import { z } from 'zod';
import { createTestKernel, type TestKernel } from './kit.js';

const ShopErrors = defineErrors('httptest-shop', {
  BUSY: { status: 503, title: 'Shop is busy', fix: 'retry later' },
  GONE: { status: 410, title: 'Item is gone' },
  EXPLODED: { status: 500, title: 'Shop exploded' },
});

const shop: Plugin = definePlugin({
  name: 'shop',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.post(
      '/items/:id',
      {
        schema: {
          params: z.object({ id: z.coerce.number().int().positive() }),
          query: z.object({ mode: z.enum(['fast', 'safe']) }),
          body: z
            .object({ name: z.string().min(1), qty: z.number().int().positive(), tags: z.array(z.string()).optional() })
            .strict(),
        },
      },
      (req) => ({ id: req.params.id, mode: req.query.mode, body: req.body }),
    );
    ctx.http.put('/notes', { schema: { body: z.object({ text: z.string() }) } }, (req) => req.body);
    ctx.http.get('/things', {}, () => ['a']);
    ctx.http.delete('/things', {}, () => undefined);
    ctx.http.get('/crash', {}, () => {
      throw new Error('password=hunter2 at db.internal:5432');
    });
    ctx.http.get('/crash-async', {}, async () => {
      await Promise.resolve();
      throw Object.assign(new TypeError('cannot read x of undefined'), { status: 418, expose: false });
    });
    ctx.http.get('/busy', {}, () => {
      throw ShopErrors.BUSY('the shop is busy, try again in 5 s', {
        headers: { 'Retry-After': '5' },
        details: { queue: 12 },
      });
    });
    ctx.http.get('/gone', {}, () => {
      throw ShopErrors.GONE('item 7 was removed', { details: { id: 7, type: 'not overriding' } });
    });
    ctx.http.get('/exploded', {}, () => {
      throw ShopErrors.EXPLODED('internal detail: shard 3 is corrupt', { details: { shard: 3 } });
    });
    ctx.http.get('/missing', {}, () => {
      throw CoreErrors.NOT_FOUND('note 9 does not exist');
    });
  },
});

describe('http: problem+json errors', () => {
  let tk: TestKernel;
  before(async () => {
    tk = await createTestKernel({ plugins: [shop], config: { http: { bodyLimit: 200 } } });
  });
  after(() => tk.stop());

  function expectProblem(
    res: { statusCode: number; headers: Record<string, unknown>; json<T>(): T },
    status: number,
    code: string,
  ): Record<string, unknown> {
    expect(res.statusCode).to.equal(status);
    expect(res.headers['content-type']).to.equal('application/problem+json; charset=utf-8');
    const body = res.json<Record<string, unknown>>();
    expect(body).to.include({ status, code, type: `urn:gantry:problem:${code}` });
    expect(body.title).to.be.a('string').and.not.equal('');
    expect(body.requestId).to.equal(res.headers['x-request-id']);
    return body;
  }

  it('400 lists every invalid field with where it was (params, query, body)', async () => {
    const res = await tk.inject({
      method: 'POST',
      url: '/api/v1/items/abc?mode=turbo',
      payload: { name: '', qty: 1.5, extra: true },
    });
    const body = expectProblem(res, 400, 'GANTRY_HTTP_VALIDATION');
    const errors = body.errors as { in: string; field: string; message: string; code: string }[];
    expect(errors.map((e) => `${e.in}:${e.field}`)).to.have.members([
      'params:id',
      'query:mode',
      'body:name',
      'body:qty',
      'body:(root)',
    ]);
    for (const e of errors) expect(e.message).to.be.a('string').and.not.equal('');
    expect(body.detail).to.equal('5 invalid fields: params.id, query.mode, body.name, body.qty, body.(root)');
    expect(body.instance).to.equal('/api/v1/items/abc');
  });

  it('400 for a missing body and for missing query parameters', async () => {
    const res = await tk.inject({ method: 'POST', url: '/api/v1/items/3' });
    const errors = expectProblem(res, 400, 'GANTRY_HTTP_VALIDATION').errors as { in: string; field: string }[];
    expect(errors.map((e) => `${e.in}:${e.field}`)).to.have.members(['query:mode', 'body:(root)']);
  });

  it('400 naming the field for NUL or a lone surrogate anywhere in params, query, body values or keys, schema or not', async () => {
    const res = await tk.inject({
      method: 'POST',
      url: '/api/v1/items/1%00?mode=fast%00',
      payload: '{"name":"a\\u0000b","qty":1,"tags":["ok","\\ud800"]}',
      headers: { 'content-type': 'application/json' },
    });
    const errors = expectProblem(res, 400, 'GANTRY_HTTP_VALIDATION').errors as {
      in: string;
      field: string;
      code: string;
      message: string;
    }[];
    expect(errors.map((e) => `${e.in}:${e.field}`)).to.have.members([
      'params:id',
      'query:mode',
      'body:name',
      'body:tags.1',
    ]);
    expect(errors.every((e) => e.code === 'invalid_characters')).to.equal(true);
    expect(errors.find((e) => e.field === 'name')!.message).to.match(/NUL/);
    expect(errors.find((e) => e.field === 'tags.1')!.message).to.match(/well-formed Unicode/);
    // A route without a schema is covered too, and a key is reported escaped.
    const keyed = await tk.inject({
      method: 'PUT',
      url: '/api/v1/notes',
      payload: '{"text":"hi","a\\u0000":1}',
      headers: { 'content-type': 'application/json' },
    });
    const keyErrors = expectProblem(keyed, 400, 'GANTRY_HTTP_VALIDATION').errors as { field: string }[];
    expect(keyErrors.map((e) => e.field)).to.deep.equal(['a\\u0000']);
    const bare = await tk.inject({ method: 'GET', url: '/api/v1/things?q=%00' });
    expectProblem(bare, 400, 'GANTRY_HTTP_VALIDATION');
    // Other control characters are the schema's business: this route accepts them.
    const ok = await tk.inject({
      method: 'PUT',
      url: '/api/v1/notes',
      payload: { text: 'tab\there \u0001 and \u{1F600}' },
    });
    expect(ok.statusCode).to.equal(200);
  });

  it('passes validated, coerced input to the handler', async () => {
    const res = await tk.inject({
      method: 'POST',
      url: '/api/v1/items/42?mode=safe',
      payload: { name: 'bolt', qty: 3 },
    });
    expect(res.statusCode).to.equal(200);
    expect(res.json()).to.deep.equal({ id: 42, mode: 'safe', body: { name: 'bolt', qty: 3 } });
  });

  it('400 GANTRY_HTTP_MALFORMED_JSON for a body that is not JSON', async () => {
    const res = await tk.inject({
      method: 'PUT',
      url: '/api/v1/notes',
      payload: '{"text": "unterminated',
      headers: { 'content-type': 'application/json' },
    });
    const body = expectProblem(res, 400, 'GANTRY_HTTP_MALFORMED_JSON');
    expect(body.detail).to.equal('the request body is not valid JSON');
  });

  it('413 GANTRY_HTTP_PAYLOAD_TOO_LARGE over the body limit', async () => {
    const res = await tk.inject({ method: 'PUT', url: '/api/v1/notes', payload: { text: 'x'.repeat(500) } });
    expectProblem(res, 413, 'GANTRY_HTTP_PAYLOAD_TOO_LARGE');
  });

  it('415 GANTRY_HTTP_UNSUPPORTED_MEDIA_TYPE for a non-JSON body', async () => {
    const res = await tk.inject({
      method: 'PUT',
      url: '/api/v1/notes',
      payload: 'text=hello',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const body = expectProblem(res, 415, 'GANTRY_HTTP_UNSUPPORTED_MEDIA_TYPE');
    expect(body.detail).to.equal('PUT /api/v1/notes accepts application/json bodies only');
    const plain = await tk.inject({
      method: 'PUT',
      url: '/api/v1/notes',
      payload: '{"text":"hi"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.statusCode).to.equal(415);
  });

  it('accepts application/*+json bodies', async () => {
    const res = await tk.inject({
      method: 'PUT',
      url: '/api/v1/notes',
      payload: '{"text":"hi"}',
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(res.statusCode).to.equal(200);
    expect(res.json()).to.deep.equal({ text: 'hi' });
  });

  it('404 GANTRY_HTTP_NOT_FOUND for an unknown path', async () => {
    const res = await tk.inject('/api/v1/nowhere');
    const body = expectProblem(res, 404, 'GANTRY_HTTP_NOT_FOUND');
    expect(body.detail).to.equal('no route matches GET /api/v1/nowhere');
  });

  it('400 (not 500) for a path parameter that is not valid percent-encoding', async () => {
    for (const url of ['/api/v1/items/%zz', '/api/v1/items/%E0%A4%A']) {
      const res = await tk.inject({ method: 'POST', url: `${url}?mode=fast`, payload: { name: 'a', qty: 1 } });
      const body = expectProblem(res, 400, 'GANTRY_HTTP_BAD_REQUEST');
      expect(body.detail).to.equal('the request path is not valid percent-encoding');
    }
  });

  it('405 (not 400) for such a path when no route of the request method matches it, on both engines', async () => {
    // Only POST serves /api/v1/items/:id: the method is what is wrong, whatever the parameter holds.
    const res = await tk.inject({ method: 'GET', url: '/api/v1/items/%zz' });
    expectProblem(res, 405, 'GANTRY_HTTP_METHOD_NOT_ALLOWED');
    expect(res.headers.allow).to.equal('POST');
  });

  it('405 with Allow for a known path under another method, TRACE always 405', async () => {
    const res = await tk.inject({ method: 'POST', url: '/api/v1/things' });
    const body = expectProblem(res, 405, 'GANTRY_HTTP_METHOD_NOT_ALLOWED');
    expect(res.headers.allow).to.equal('DELETE, GET, HEAD');
    expect(body.allowed).to.deep.equal(['DELETE', 'GET', 'HEAD']);
    const trace = await tk.inject({ method: 'TRACE', url: '/api/v1/things' });
    expectProblem(trace, 405, 'GANTRY_HTTP_METHOD_NOT_ALLOWED');
    const traceUnknown = await tk.inject({ method: 'TRACE', url: '/somewhere/else' });
    expectProblem(traceUnknown, 405, 'GANTRY_HTTP_METHOD_NOT_ALLOWED');
    expect(traceUnknown.headers.allow).to.equal(undefined);
    // Parameterised paths are matched too.
    const put = await tk.inject({ method: 'PUT', url: '/api/v1/items/5' });
    expect(put.statusCode).to.equal(405);
    expect(put.headers.allow).to.equal('POST');
  });

  it('500 for an unknown error: generic detail, no message, no stack', async () => {
    for (const url of ['/api/v1/crash', '/api/v1/crash-async']) {
      const res = await tk.inject(url);
      const body = expectProblem(res, 500, 'GANTRY_HTTP_INTERNAL');
      expect(body.detail).to.equal('An unexpected error occurred. Quote the request id when reporting it.');
      expect(res.body).not.to.match(/hunter2|db\.internal|cannot read|stack|at .*\.js/);
      expect(Object.keys(body)).to.have.members(['type', 'title', 'status', 'detail', 'code', 'instance', 'requestId']);
    }
  });

  it('a GantryError keeps its status, code, detail, details and headers (Retry-After)', async () => {
    const res = await tk.inject('/api/v1/busy');
    const body = expectProblem(res, 503, 'GANTRY_HTTPTEST_SHOP_BUSY');
    expect(res.headers['retry-after']).to.equal('5');
    expect(body).to.include({ title: 'Shop is busy', detail: 'the shop is busy, try again in 5 s', queue: 12 });

    const gone = await tk.inject('/api/v1/gone');
    const goneBody = expectProblem(gone, 410, 'GANTRY_HTTPTEST_SHOP_GONE');
    // A detail key may not overwrite a standard member.
    expect(goneBody).to.include({
      detail: 'item 7 was removed',
      id: 7,
      type: 'urn:gantry:problem:GANTRY_HTTPTEST_SHOP_GONE',
    });

    expectProblem(await tk.inject('/api/v1/missing'), 404, 'GANTRY_CORE_NOT_FOUND');
  });

  it('a GantryError with status 500 keeps its code but hides its message and details', async () => {
    const res = await tk.inject('/api/v1/exploded');
    const body = expectProblem(res, 500, 'GANTRY_HTTPTEST_SHOP_EXPLODED');
    expect(res.body).not.to.include('shard');
    expect(body.detail).to.equal('An unexpected error occurred. Quote the request id when reporting it.');
  });
});
