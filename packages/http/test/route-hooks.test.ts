import { currentContext, GantryError, HttpTransportToken, type HttpMiddleware, type ResponseInfo } from '@gantry/core';
import { expect } from 'chai';
import { z } from 'zod';
import { HttpErrors, HttpServerToken } from '../src/index.js';
import { createTestKernel, routes } from './kit.js';

/** A guard plugin: routes whose meta says `guarded` need header x-pass: yes, else 403 before the body is parsed. */
const guard = routes('guard', (ctx) => {
  const deny: HttpMiddleware = (req, _res, next) => {
    if (req.headers['x-pass'] === 'yes') next();
    else next(HttpErrors.BAD_REQUEST('x-pass header missing', {}));
  };
  ctx.http.onRoute((route) => (route.meta.guarded === true ? deny : undefined));
});

describe('http: route hooks (onRoute)', () => {
  it('guards exactly the routes whose metadata asks for it, before their body is parsed', async () => {
    const seen: string[] = [];
    const app = routes('app', (ctx) => {
      ctx.http.post('/open', { schema: { body: z.object({ a: z.number() }) } }, (req) => ({ a: req.body.a }));
      ctx.http.post('/closed', { meta: { guarded: true }, schema: { body: z.object({ a: z.number() }) } }, (req) => {
        seen.push('handler');
        return { a: req.body.a };
      });
    });
    await using tk = await createTestKernel({ plugins: [guard, app] });
    expect((await tk.inject({ method: 'POST', url: '/api/v1/open', payload: { a: 1 } })).json()).to.deep.equal({
      a: 1,
    });
    // Malformed JSON on a guarded route: the guard answers first, so the body was never parsed.
    const refused = await tk.inject({
      method: 'POST',
      url: '/api/v1/closed',
      payload: '{not json',
      headers: { 'content-type': 'application/json' },
    });
    expect(refused.statusCode).to.equal(400);
    expect(refused.json().code).to.equal('GANTRY_HTTP_BAD_REQUEST');
    const passed = await tk.inject({
      method: 'POST',
      url: '/api/v1/closed',
      payload: { a: 2 },
      headers: { 'x-pass': 'yes' },
    });
    expect(passed.json()).to.deep.equal({ a: 2 });
    expect(seen).to.deep.equal(['handler']);
  });

  it('sees every plugin route, whichever plugin registered first', async () => {
    const seen: string[] = [];
    const watcher = routes('watcher', (ctx) =>
      ctx.http.onRoute((r) => void seen.push(`${r.method} ${r.path} ${r.plugin}`)),
    );
    const later = routes('later', (ctx) => ctx.http.get('/x', {}, () => 'x'), { dependsOn: ['http', 'watcher'] });
    await using tk = await createTestKernel({ plugins: [watcher, later] });
    expect(seen).to.include.members(['GET /api/v1/x later', 'GET /healthz http', 'GET /readyz http']);
    expect(tk.get(HttpTransportToken)).to.not.equal(undefined);
  });

  it('refuses the setup at boot when a hook throws (e.g. a route without a required declaration)', async () => {
    const strict = routes('strict', (ctx) =>
      ctx.http.onRoute((r) => {
        if (!r.root && r.meta.permission === undefined && r.meta.public !== true) {
          throw HttpErrors.ROUTE_INVALID(
            `route ${r.method} ${r.path} of plugin "${r.plugin}" declares neither a permission nor public: true`,
          );
        }
        return undefined;
      }),
    );
    const app = routes('app', (ctx) => ctx.http.get('/undeclared', {}, () => 'x'));
    let error: unknown;
    try {
      await createTestKernel({ plugins: [strict, app] });
    } catch (err) {
      error = err;
    }
    expect(GantryError.is(error)).to.equal(true);
    expect(String((error as Error).message) + String(((error as Error).cause as Error)?.message)).to.include(
      'GET /api/v1/undeclared of plugin "app" declares neither',
    );
  });

  it('refuses the boot when a route needs authentication or a permission and no plugin enforces it', async () => {
    const app = routes('app', (ctx) => {
      ctx.http.get('/mine', { meta: { auth: true } }, () => 'x');
      ctx.http.get('/admin', { meta: { permission: 'users:write' } }, () => 'x');
      ctx.http.get('/open', { meta: { public: true, permission: 'ignored' } }, () => 'x');
    });
    let error: unknown;
    try {
      await createTestKernel({ plugins: [app] });
    } catch (err) {
      error = err;
    }
    const cause = (error as Error).cause as GantryError;
    expect(cause.code).to.equal('GANTRY_HTTP_ROUTE_UNGUARDED');
    const text = String(cause.message);
    expect(text).to.include(
      'GET /api/v1/mine (plugin "app") needs authentication but no enabled plugin authenticates callers',
    );
    expect(text).to.include(
      'GET /api/v1/admin (plugin "app") requires permission "users:write" but no enabled plugin checks permissions',
    );
    expect(text).to.not.include('/api/v1/open');
  });

  it('answers 401 UNAUTHENTICATED when the authenticators let a protected request through without a caller', async () => {
    const authn = routes('authn', (ctx) =>
      ctx.http.onRoute(
        () => (req, _res, next) => {
          const ctxNow = currentContext();
          if (ctxNow && req.headers['x-user']) ctxNow.principal = { id: String(req.headers['x-user']), kind: 'user' };
          next();
        },
        { name: 'header-authenticator', order: 50, enforces: ['authentication'] },
      ),
    );
    const app = routes(
      'app',
      (ctx) => ctx.http.get('/mine', { meta: { auth: true } }, () => ({ id: currentContext()?.principal?.id })),
      { dependsOn: ['http', 'authn'] },
    );
    await using tk = await createTestKernel({ plugins: [authn, app] });
    const anonymous = await tk.inject({ method: 'GET', url: '/api/v1/mine' });
    expect(anonymous.statusCode).to.equal(401);
    expect(JSON.parse(anonymous.body).code).to.equal('GANTRY_HTTP_UNAUTHENTICATED');
    expect(anonymous.headers['www-authenticate']).to.equal('Bearer realm="api"');
    const known = await tk.inject({ method: 'GET', url: '/api/v1/mine', headers: { 'x-user': 'u1' } });
    expect(JSON.parse(known.body)).to.deep.equal({ id: 'u1' });
  });

  it('deny by default: with an authenticator enabled, a route that declares nothing refuses the boot, naming it and the fix', async () => {
    const authn = routes('authn', (ctx) =>
      ctx.http.onRoute(() => undefined, { name: 'authenticator', order: 50, enforces: ['authentication'] }),
    );
    const app = routes(
      'app',
      (ctx) => {
        ctx.http.get('/forgotten', {}, () => 'x');
        ctx.http.get('/root-forgotten', { root: true }, () => 'x');
        ctx.http.get('/open', { meta: { public: true } }, () => 'x');
        ctx.http.get('/mine', { meta: { auth: true } }, () => 'x');
        ctx.http.get('/session-only', { meta: { auth: 'session' } }, () => 'x');
      },
      { dependsOn: ['http', 'authn'] },
    );
    let error: unknown;
    try {
      await createTestKernel({ plugins: [authn, app] });
    } catch (err) {
      error = err;
    }
    const refusal = ((error as Error).cause ?? error) as GantryError;
    expect(refusal.code).to.equal('GANTRY_HTTP_ROUTE_UNDECLARED');
    expect(refusal.message).to.include('2 route(s) do not say who may call them while "authn" sign callers in');
    expect((refusal.details as { routes: string[] }).routes).to.deep.equal([
      'GET /api/v1/forgotten (plugin "app")',
      'GET /root-forgotten (plugin "app")',
    ]);
    expect(refusal.fix).to.include('meta: { public: true }');
    // Without an authenticator nobody can be told apart: undeclared routes are served as before.
    await using open = await createTestKernel({
      plugins: [routes('plain', (ctx) => ctx.http.get('/forgotten', {}, () => ({ ok: true })))],
    });
    expect((await open.inject('/api/v1/forgotten')).statusCode).to.equal(200);
  });

  it('labels responses answered by a guard with the route template, not <unmatched>', async () => {
    const infos: ResponseInfo[] = [];
    const app = routes('app', (ctx) => {
      ctx.http.onResponse((i) => infos.push(i));
      ctx.http.get('/items/:id', { meta: { guarded: true } }, () => 'x');
    });
    await using tk = await createTestKernel({ plugins: [guard, app] });
    await tk.inject('/api/v1/items/42');
    await new Promise((r) => setImmediate(r));
    const last = infos.at(-1)!;
    expect(last.route).to.equal('/api/v1/items/:id');
    expect(last.status).to.equal(400);
  });
});

describe('http: route hooks at the after-body stage', () => {
  it('run after the body is parsed (they can read it) and before validation and the handler', async () => {
    const order: string[] = [];
    const reader = routes('reader', (ctx) =>
      ctx.http.onRoute(
        () => (req, _res, next) => {
          order.push(`after-body:${JSON.stringify((req as unknown as { body?: unknown }).body)}`);
          next();
        },
        { stage: 'after-body' },
      ),
    );
    const early = routes('early', (ctx) =>
      ctx.http.onRoute(() => (req, _res, next) => {
        order.push(`before-body:${JSON.stringify((req as unknown as { body?: unknown }).body)}`);
        next();
      }),
    );
    const app = routes('app', (ctx) =>
      ctx.http.post('/echo', { schema: { body: z.object({ email: z.string() }) } }, (req) => {
        order.push('handler');
        return req.body;
      }),
    );
    await using tk = await createTestKernel({ plugins: [reader, early, app] });
    const res = await tk.inject({ method: 'POST', url: '/api/v1/echo', payload: { email: 'a@b.c' } });
    expect(res.json()).to.deep.equal({ email: 'a@b.c' });
    expect(order).to.deep.equal(['before-body:undefined', 'after-body:{"email":"a@b.c"}', 'handler']);
  });
});

describe('http: definitions() (read-only, for tools that document the API)', () => {
  it('lists every route with its success status, whether it parses a body, and the hooks that guard it', async () => {
    const auth = routes('auth', (ctx) => {
      const pass: HttpMiddleware = (_req, _res, next) => next();
      ctx.http.onRoute((route) => (route.meta.guarded === true ? pass : undefined), { name: 'auth-check' });
      ctx.http.onRoute(() => [], { name: 'never' });
      ctx.http.post(
        '/things',
        { status: 201, schema: { body: z.object({ n: z.number() }) }, meta: { guarded: true } },
        (req) => req.body,
      );
      ctx.http.get('/things/:id', {}, () => ({}));
    });
    await using tk = await createTestKernel({ plugins: [auth] });
    const server = tk.get(HttpServerToken);
    const defs = server.definitions();
    const post = defs.find((d) => d.method === 'POST' && d.path === '/api/v1/things');
    const get = defs.find((d) => d.method === 'GET' && d.path === '/api/v1/things/:id');
    expect(post).to.deep.include({ status: 201, acceptsBody: true, plugin: 'auth' });
    expect(post?.guards).to.deep.equal([{ name: 'auth-check', plugin: 'auth' }]);
    expect(get).to.deep.include({ status: 200, acceptsBody: false, guards: [] });
    expect(defs.some((d) => d.path === '/healthz')).to.equal(true);
    expect(Object.isFrozen(post)).to.equal(true);
    expect(post).to.not.have.property('options');
  });
});
