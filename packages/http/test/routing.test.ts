import { currentContext, GantryError, type PluginContext, type ResponseInfo } from '@gantry/core';
import { expect } from 'chai';
import { z } from 'zod';
import { HttpServerToken } from '../src/index.js';
import { createTestKernel, routes } from './kit.js';

async function rejectionOf(promise: Promise<unknown>): Promise<GantryError> {
  try {
    await promise;
  } catch (err) {
    expect(GantryError.is(err), String(err)).to.equal(true);
    return err as GantryError;
  }
  expect.fail('expected a rejection');
}

describe('http: routing', () => {
  it('prefixes plugin routes with basePath (default /api/v1) and mounts root routes as they are', async () => {
    const p = routes('paths', (ctx) => {
      ctx.http.get('/ping', {}, () => ({ pong: true }));
      ctx.http.get('/', {}, () => ({ index: true }));
      ctx.http.get('/metrics-like', { root: true }, () => 'raw');
    });
    await using tk = await createTestKernel({ plugins: [p] });
    expect((await tk.inject('/api/v1/ping')).json()).to.deep.equal({ pong: true });
    expect((await tk.inject('/api/v1')).json()).to.deep.equal({ index: true });
    expect((await tk.inject('/metrics-like')).json()).to.equal('raw');
    expect((await tk.inject('/ping')).statusCode).to.equal(404);
    expect((await tk.inject('/api/v1/metrics-like')).statusCode).to.equal(404);
    const paths = tk
      .get(HttpServerToken)
      .routes()
      .map((r) => `${r.method} ${r.path} ${r.plugin}`);
    expect(paths).to.include.members([
      'GET /api/v1/ping paths',
      'GET /api/v1 paths',
      'GET /metrics-like paths',
      'GET /healthz http',
      'GET /readyz http',
    ]);
  });

  it('honours a custom or empty basePath', async () => {
    const p = routes('paths', (ctx) => ctx.http.get('/ping', {}, () => 'pong'));
    await using custom = await createTestKernel({ plugins: [p], config: { http: { basePath: '/svc/v2' } } });
    expect((await custom.inject('/svc/v2/ping')).statusCode).to.equal(200);
    await using empty = await createTestKernel({ plugins: [p], config: { http: { basePath: '' } } });
    expect((await empty.inject('/ping')).statusCode).to.equal(200);
    const bad = await rejectionOf(createTestKernel({ plugins: [p], config: { http: { basePath: 'api/' } } }));
    expect(bad.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect(bad.message).to.include(
      'plugin "http": option "basePath": must look like /api/v1 (or be empty) (got "api/")',
    );
  });

  it('answers 204 with no body when the handler returns undefined, or the route status', async () => {
    const p = routes('empty', (ctx) => {
      ctx.http.delete('/a', {}, () => undefined);
      ctx.http.post('/b', { status: 202 }, async () => undefined);
      ctx.http.post('/c', { status: 201 }, () => ({ id: 1 }));
    });
    await using tk = await createTestKernel({ plugins: [p] });
    const a = await tk.inject({ method: 'DELETE', url: '/api/v1/a' });
    expect(a.statusCode).to.equal(204);
    expect(a.body).to.equal('');
    expect((await tk.inject({ method: 'POST', url: '/api/v1/b' })).statusCode).to.equal(202);
    const c = await tk.inject({ method: 'POST', url: '/api/v1/c' });
    expect(c.statusCode).to.equal(201);
    expect(c.json()).to.deep.equal({ id: 1 });
  });

  it('answers what a handler returns, resolves to, or a thenable settles to; a throw or rejection is a problem', async () => {
    const p = routes('shapes', (ctx) => {
      ctx.http.get('/sync', {}, () => ({ how: 'sync' }));
      ctx.http.get('/async', {}, async () => ({ how: 'async' }));
      // A thenable that is not a Promise (a query builder, say) is awaited like one.
      ctx.http.get('/thenable', {}, () => ({
        // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose, what this case is about
        then: (resolve: (v: unknown) => void) => resolve({ how: 'thenable' }),
      }));
      ctx.http.get('/throws', {}, () => {
        throw new TypeError('sync fault');
      });
      ctx.http.get('/rejects', {}, async () => {
        throw new TypeError('async fault');
      });
      ctx.http.get('/thenable-rejects', {}, () => ({
        // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose, what this case is about
        then: (_: unknown, reject: (e: unknown) => void) => reject(new TypeError('thenable fault')),
      }));
    });
    await using tk = await createTestKernel({ plugins: [p] });
    for (const how of ['sync', 'async', 'thenable']) {
      const res = await tk.inject(`/api/v1/${how}`);
      expect(res.statusCode, how).to.equal(200);
      expect(res.json(), how).to.deep.equal({ how });
    }
    for (const path of ['throws', 'rejects', 'thenable-rejects']) {
      const res = await tk.inject(`/api/v1/${path}`);
      expect(res.statusCode, path).to.equal(500);
      expect(res.json().code, path).to.equal('GANTRY_HTTP_INTERNAL');
    }
  });

  it('lets the handler set status, headers and content type through reply', async () => {
    const p = routes('replies', (ctx) => {
      ctx.http.post('/things', {}, (_req, reply) => {
        reply.status(201).header('Location', '/api/v1/things/7').header('X-Multi', ['a', 'b']);
        return { id: 7 };
      });
      ctx.http.get('/report.csv', {}, (_req, reply) => {
        reply.type('text/csv; charset=utf-8');
        return 'a,b\n1,2\n';
      });
      ctx.http.get('/bytes', {}, (_req, reply) => {
        reply.type('application/octet-stream');
        return Buffer.from([1, 2, 3]);
      });
      ctx.http.get('/teapot', {}, (_req, reply) => void reply.status(418));
    });
    await using tk = await createTestKernel({ plugins: [p] });
    const created = await tk.inject({ method: 'POST', url: '/api/v1/things' });
    expect(created.statusCode).to.equal(201);
    expect(created.headers.location).to.equal('/api/v1/things/7');
    expect(created.headers['x-multi']).to.deep.equal(['a', 'b']);
    expect(created.headers['content-type']).to.match(/^application\/json/);
    const csv = await tk.inject('/api/v1/report.csv');
    expect(csv.headers['content-type']).to.equal('text/csv; charset=utf-8');
    expect(csv.body).to.equal('a,b\n1,2\n');
    const bytes = await tk.inject('/api/v1/bytes');
    expect(bytes.headers['content-type']).to.equal('application/octet-stream');
    expect([...Buffer.from(bytes.body, 'latin1')]).to.deep.equal([1, 2, 3]);
    const tea = await tk.inject('/api/v1/teapot');
    expect(tea.statusCode).to.equal(418);
    expect(tea.body).to.equal('');
  });

  it('coerces params and query with zod and hands the handler typed values', async () => {
    const p = routes('typed', (ctx) => {
      ctx.http.get(
        '/pages/:page',
        {
          schema: {
            params: z.object({ page: z.coerce.number().int().min(1) }),
            query: z.object({ size: z.coerce.number().int().max(100).default(20), draft: z.stringbool().optional() }),
          },
        },
        (req) => ({
          page: req.params.page,
          size: req.query.size,
          draft: req.query.draft ?? null,
          types: [typeof req.params.page, typeof req.query.size],
        }),
      );
    });
    await using tk = await createTestKernel({ plugins: [p] });
    expect((await tk.inject('/api/v1/pages/3?size=50&draft=true')).json()).to.deep.equal({
      page: 3,
      size: 50,
      draft: true,
      types: ['number', 'number'],
    });
    expect((await tk.inject('/api/v1/pages/3')).json()).to.deep.include({ size: 20, draft: null });
    const bad = await tk.inject('/api/v1/pages/0?size=500');
    expect(bad.statusCode).to.equal(400);
    expect((bad.json().errors as { in: string; field: string }[]).map((e) => `${e.in}.${e.field}`)).to.have.members([
      'params.page',
      'query.size',
    ]);
  });

  it('runs the handler inside the request context: currentContext() is req.context', async () => {
    const p = routes('ctx', (ctx) => {
      ctx.http.get('/who', {}, async (req) => {
        await new Promise((r) => setImmediate(r));
        return {
          same: currentContext() === req.context,
          id: req.context.requestId,
          remaining: req.context.remainingMs() > 0,
        };
      });
    });
    await using tk = await createTestKernel({ plugins: [p] });
    const res = await tk.inject({ url: '/api/v1/who', headers: { 'x-request-id': 'trace-123' } });
    expect(res.json()).to.deep.equal({ same: true, id: 'trace-123', remaining: true });
  });

  it('aborts the context signal at requestTimeoutMs: a handler waiting on it answers 504', async () => {
    const p = routes('slow', (ctx) => {
      ctx.http.get(
        '/wait',
        {},
        (req) =>
          new Promise((_, reject) =>
            req.context.signal.addEventListener('abort', () => reject(req.context.signal.reason)),
          ),
      );
    });
    await using tk = await createTestKernel({ plugins: [p], config: { http: { requestTimeoutMs: 30 } } });
    const res = await tk.inject('/api/v1/wait');
    expect(res.statusCode).to.equal(504);
    expect(res.json()).to.include({ code: 'GANTRY_CORE_DEADLINE_EXCEEDED' });
  });

  it('reports each response to onResponse with the route template, never the raw path', async () => {
    const seen: ResponseInfo[] = [];
    const p = routes('observed', (ctx) => {
      ctx.http.onResponse((info) => seen.push(info));
      ctx.http.get('/users/:id', { schema: { params: z.object({ id: z.string().uuid() }) } }, (req) => req.params);
    });
    await using tk = await createTestKernel({ plugins: [p] });
    await tk.inject('/api/v1/users/5b0f4c4e-1f7e-4c87-9a53-3c3f0a0c1b2d');
    await tk.inject('/api/v1/users/not-a-uuid');
    await tk.inject('/api/v1/secret-token-abc123');
    await tk.inject({ method: 'POST', url: '/api/v1/users/1' });
    await tk.inject('/healthz');
    // Listeners run when the response closes, just after the client has it.
    await new Promise((r) => setImmediate(r));
    expect(seen.map((i) => [i.method, i.route, i.status])).to.deep.equal([
      ['GET', '/api/v1/users/:id', 200],
      ['GET', '/api/v1/users/:id', 400],
      ['GET', '<unmatched>', 404],
      ['POST', '<unmatched>', 405],
      ['GET', '/healthz', 200],
    ]);
    for (const i of seen) expect(i.durationSeconds).to.be.a('number').and.at.least(0);
  });

  it('a throwing onResponse listener neither crashes the process nor stops the other listeners', async () => {
    const statuses: number[] = [];
    const p = routes('observed', (ctx) => {
      ctx.http.onResponse(() => {
        throw new Error('listener bug');
      });
      ctx.http.onResponse((info) => statuses.push(info.status));
      ctx.http.get('/x', {}, () => 1);
    });
    await using tk = await createTestKernel({ plugins: [p] });
    expect((await tk.inject('/api/v1/x')).statusCode).to.equal(200);
    expect((await tk.inject('/api/v1/x')).statusCode).to.equal(200);
    await new Promise((r) => setImmediate(r));
    expect(statuses).to.deep.equal([200, 200]);
  });

  it('runs middleware in `order`, before the routes', async () => {
    const order: string[] = [];
    const p = routes('mw', (ctx) => {
      ctx.http.use(
        (_req, res, next) => {
          order.push('late');
          res.setHeader('x-late', '1');
          next();
        },
        { order: 200 },
      );
      ctx.http.use(
        (_req, _res, next) => {
          order.push('early');
          next();
        },
        { order: 10 },
      );
      ctx.http.use((_req, _res, next) => {
        order.push('default');
        next();
      });
      ctx.http.get('/x', {}, () => {
        order.push('handler');
        return 1;
      });
    });
    await using tk = await createTestKernel({ plugins: [p] });
    const res = await tk.inject('/api/v1/x');
    expect(res.headers['x-late']).to.equal('1');
    expect(order).to.deep.equal(['early', 'default', 'late', 'handler']);
  });

  it('answers HEAD for GET routes without a body', async () => {
    const p = routes('head', (ctx) => ctx.http.get('/doc', {}, () => ({ big: 'x'.repeat(100) })));
    await using tk = await createTestKernel({ plugins: [p] });
    const res = await tk.inject({ method: 'HEAD', url: '/api/v1/doc' });
    expect(res.statusCode).to.equal(200);
    expect(res.body).to.equal('');
  });

  it('refuses two routes with one method and path at boot with GANTRY_HTTP_ROUTE_CONFLICT naming both plugins', async () => {
    const a = routes('alpha', (ctx) => ctx.http.get('/dup', {}, () => 1));
    const b = routes('beta', (ctx) => ctx.http.get('/dup', {}, () => 2), { dependsOn: ['http', 'alpha'] });
    const err = await rejectionOf(createTestKernel({ plugins: [a, b] }));
    expect(err.code).to.equal('GANTRY_CORE_REGISTER_FAILED');
    const cause = err.cause as GantryError;
    expect(cause.code).to.equal('GANTRY_HTTP_ROUTE_CONFLICT');
    expect(cause.message).to.equal('GET /api/v1/dup is registered by plugin "alpha" and by plugin "beta"');
    expect(err.message).to.include('GET /api/v1/dup is registered by plugin "alpha" and by plugin "beta"');

    const squatter = routes('squatter', (ctx) => ctx.http.get('/healthz', { root: true }, () => 'mine'));
    const clash = await rejectionOf(createTestKernel({ plugins: [squatter] }));
    expect((clash.cause as GantryError).code).to.equal('GANTRY_HTTP_ROUTE_CONFLICT');
    expect((clash.cause as GantryError).message).to.include(
      'GET /healthz is registered by plugin "http" and by plugin "squatter"',
    );
  });

  it('refuses invalid route declarations at boot', async () => {
    const noSlash = routes('bad-path', (ctx) => ctx.http.get('items', {}, () => 1));
    const err = await rejectionOf(createTestKernel({ plugins: [noSlash] }));
    expect((err.cause as GantryError).code).to.equal('GANTRY_HTTP_ROUTE_INVALID');
    expect(err.message).to.include('route path "items" must start with "/"');
    const badMethod = routes('bad-method', (ctx) =>
      ctx.http.route({ method: 'TRACE' as never, path: '/t', handler: () => 1 }),
    );
    expect((await rejectionOf(createTestKernel({ plugins: [badMethod] }))).message).to.include(
      'method TRACE is not supported',
    );
  });

  it('refuses routes and middleware added after the server was built', async () => {
    const late = routes('late', (ctx) => {
      ctx.lifecycle.hook({ name: 'add-late-route', start: () => ctx.http.get('/late', {}, () => 1) });
    });
    const err = await rejectionOf(createTestKernel({ plugins: [late] }));
    expect(err.code).to.equal('GANTRY_CORE_HOOK_FAILED');
    expect((err.cause as GantryError).code).to.equal('GANTRY_HTTP_ROUTES_FROZEN');
    expect(err.message).to.include('plugin "late" added a route or middleware after the HTTP server was built');

    let router: PluginContext<unknown>['http'] | undefined;
    const keeper = routes('keeper', (ctx) => void (router = ctx.http));
    await using tk = await createTestKernel({ plugins: [keeper] });
    expect(() => router!.use((_q, _s, next) => next())).to.throw(GantryError, 'after the HTTP server was built');
    expect(() => router!.post('/x', {}, () => 1)).to.throw(GantryError, 'after the HTTP server was built');
    expect((await tk.inject({ method: 'POST', url: '/api/v1/x' })).statusCode).to.equal(404);
  });

  it('refuses ctx.http for a plugin that does not list http in dependsOn', async () => {
    const sneaky = routes('sneaky', (ctx) => ctx.http.get('/x', {}, () => 1), { dependsOn: [] });
    const err = await rejectionOf(createTestKernel({ plugins: [sneaky] }));
    expect((err.cause as GantryError).code).to.equal('GANTRY_CORE_HTTP_UNAVAILABLE');
    expect(err.message).to.include('plugin "sneaky" uses ctx.http but does not list "http" in dependsOn');
  });

  it('exposes route metadata to other plugins through routes()', async () => {
    const p = routes('documented', (ctx) => {
      ctx.http.post(
        '/users',
        {
          summary: 'Create a user',
          tags: ['users'],
          meta: { audit: 'user.create' },
          schema: { body: z.object({ email: z.string() }) },
        },
        () => ({}),
      );
    });
    await using tk = await createTestKernel({ plugins: [p] });
    const route = tk
      .get(HttpServerToken)
      .routes()
      .find((r) => r.plugin === 'documented')!;
    expect(route).to.deep.include({ method: 'POST', path: '/api/v1/users', summary: 'Create a user', tags: ['users'] });
    expect(route.meta).to.deep.equal({ audit: 'user.create' });
    expect(Object.isFrozen(route.meta)).to.equal(true);
    expect(route.schema?.body).to.be.an('object');
  });
});
