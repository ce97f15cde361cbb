import { request as httpRequest } from 'node:http';
import { definePlugin, type HttpMiddleware, type Plugin, type ResponseInfo } from '@gantry/core';
import { expect } from 'chai';
import { z } from 'zod';
import { HttpErrors, HttpServerToken, httpConfigSchema } from '../src/index.js';
import { createTestKernel, type InjectOptions, type TestKernel } from './kit.js';

type Engine = 'express' | 'fastify';
const ENGINES: readonly Engine[] = ['express', 'fastify'];

/** What the middleware below saw of the request: the express members plugins read, on both engines. */
const seen: Record<Engine, unknown[]> = { express: [], fastify: [] };

function app(engine: Engine, responses: ResponseInfo[]): Plugin {
  return definePlugin({
    name: 'app',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http'],
    register(ctx) {
      const http = ctx.http;
      const look: HttpMiddleware = (req, res, next) => {
        const r = req as typeof req & Record<string, unknown>;
        if (req.headers['x-look'] === 'yes')
          seen[engine].push({
            ip: r.ip,
            host: r.host,
            hostname: r.hostname,
            protocol: r.protocol,
            path: r.path,
            query: { ...(r.query as object) },
            originalUrl: r.originalUrl,
            route: r.route,
          });
        // express-rate-limit writes its headers with express's res.append.
        (res as typeof res & { append(n: string, v: string): void }).append('x-appended', 'one');
        (res as typeof res & { append(n: string, v: string): void }).append('x-appended', 'two');
        next();
      };
      http.use(look, { name: 'look' });
      http.onRoute((route) =>
        route.meta.guarded
          ? (req, _res, next) =>
              req.headers['x-pass'] === 'yes' ? next() : next(HttpErrors.BAD_REQUEST('x-pass header missing'))
          : undefined,
      );
      http.onRoute(
        (route) =>
          route.meta.readsBody
            ? async (req, _res, next) => {
                const body = (req as typeof req & { body?: { a?: unknown } }).body;
                if (body?.a === 'stop') throw HttpErrors.BAD_REQUEST('stopped after the body was parsed');
                next();
              }
            : undefined,
        { stage: 'after-body' },
      );
      // express takes a falsy value given to next() (or thrown) for "no error": the chain goes on.
      http.onRoute((route) =>
        route.meta.lenient
          ? [(_req, _res, next) => next(0 as never), (_req, _res, next) => next('' as never)]
          : undefined,
      );
      http.onResponse((info) => responses.push(info));
      http.get('/hello', {}, () => ({ hello: 'world' }));
      http.get(
        '/items/:id',
        { schema: { params: z.object({ id: z.string() }), query: z.object({ q: z.string().optional() }) } },
        (req) => ({ id: req.params.id, q: req.query.q ?? null, path: req.path, ip: req.ip }),
      );
      http.post(
        '/items',
        { status: 201, meta: { readsBody: true }, schema: { body: z.object({ a: z.string() }) } },
        (req, reply) => {
          reply.header('location', `/items/${req.body.a}`);
          return { a: req.body.a };
        },
      );
      http.post('/raw', {}, (req) => ({ body: req.body ?? null }));
      http.put('/guarded', { meta: { guarded: true }, schema: { body: z.object({ a: z.number() }) } }, (req) => ({
        a: req.body.a,
      }));
      http.delete('/items/:id', {}, () => undefined);
      http.get('/csv', {}, (_req, reply) => {
        reply.type('text/csv');
        return 'a,b\n1,2\n';
      });
      http.get('/bin', {}, (_req, reply) => {
        reply.type('application/octet-stream');
        return Buffer.from([1, 2, 3]);
      });
      http.get('/html', {}, (_req, reply) => reply.type('html') && '<p>x</p>');
      http.get('/accepted', {}, (_req, reply) => {
        reply.status(202);
        return { queued: true };
      });
      http.get('/lenient', { meta: { lenient: true } }, () => ({ went: 'on' }));
      http.get('/boom', {}, () => {
        throw new Error('secret detail');
      });
    },
  });
}

const REQUESTS: readonly InjectOptions[] = [
  { url: '/api/v1/hello' },
  { url: '/api/v1/hello/' },
  { url: '/API/V1/hello' },
  { method: 'HEAD', url: '/api/v1/hello' },
  { method: 'POST', url: '/api/v1/hello' },
  { method: 'OPTIONS', url: '/api/v1/hello' },
  { method: 'TRACE', url: '/api/v1/hello' },
  { url: '/api/v1/nothing-here' },
  { url: '/api/v1/items/42?q=x&q=y' },
  { url: '/api/v1/items/a%20b?q=%F0%9F%98%80' },
  { url: '/api/v1/items/%zz' },
  { url: '/api/v1/it%zzems' },
  { url: '/api/v1/items/x%00y' },
  // An escaped letter is another path for express (matched as sent), not /api/v1/hello.
  { url: '/api/v1/hel%6co' },
  { url: '/api/v1/items/%34%32' },
  // A malformed Content-Type where no route (or another method) matches: still the 404/405 problem.
  { method: 'POST', url: '/api/v1/nothing-here', payload: 'x', headers: { 'content-type': 'not a type' } },
  { method: 'PATCH', url: '/api/v1/hello', payload: 'x', headers: { 'content-type': 'not a type' } },
  { url: '/api/v1/items/42', headers: { 'x-look': 'yes', 'x-forwarded-for': '198.51.100.7', host: 'api.test' } },
  { url: '/api/v1/nope?z=1', headers: { 'x-look': 'yes', 'x-forwarded-host': 'proxy.test', host: 'api.test:8080' } },
  { method: 'POST', url: '/api/v1/items', payload: { a: 'one' } },
  { method: 'POST', url: '/api/v1/items', payload: { a: 'stop' } },
  { method: 'POST', url: '/api/v1/items', payload: { a: 1 } },
  { method: 'POST', url: '/api/v1/items', payload: '{"a":', headers: { 'content-type': 'application/json' } },
  { method: 'POST', url: '/api/v1/items', payload: 'a=b', headers: { 'content-type': 'text/plain' } },
  { method: 'POST', url: '/api/v1/items', payload: 'a=b', headers: { 'content-type': 'not a type' } },
  {
    method: 'POST',
    url: '/api/v1/items',
    payload: '{}',
    headers: { 'content-type': 'application/json; charset=latin9' },
  },
  { method: 'POST', url: '/api/v1/items', payload: { a: 'x'.repeat(2_000) } },
  { method: 'POST', url: '/api/v1/items', payload: { a: 'nul\u0000' } },
  {
    method: 'POST',
    url: '/api/v1/items',
    payload: '{"a":"x"}',
    headers: { 'content-type': 'application/merge-patch+json' },
  },
  { method: 'POST', url: '/api/v1/raw', payload: 'plain', headers: { 'content-type': 'text/plain' } },
  { method: 'POST', url: '/api/v1/raw' },
  { method: 'PUT', url: '/api/v1/guarded', payload: '{oops', headers: { 'content-type': 'application/json' } },
  {
    method: 'PUT',
    url: '/api/v1/guarded',
    payload: '{"a":1}',
    headers: { 'content-type': 'application/json', 'x-pass': 'yes' },
  },
  { method: 'DELETE', url: '/api/v1/items/7' },
  { url: '/api/v1/csv' },
  { url: '/api/v1/bin' },
  { url: '/api/v1/html' },
  { url: '/api/v1/accepted' },
  { url: '/api/v1/boom' },
  { url: '/api/v1/lenient' },
  { url: '/healthz', headers: { 'x-request-id': 'given-id-1' } },
  { url: '/healthz', headers: { 'x-request-id': 'bad id with spaces' } },
];

/** A response without what differs per request (date, generated ids). */
function comparable(res: { statusCode: number; headers: Record<string, unknown>; body: string }): unknown {
  const { date: _date, 'x-request-id': id, connection: _c, 'keep-alive': _k, ...headers } = res.headers;
  let body: unknown = res.body;
  try {
    const parsed = JSON.parse(res.body) as Record<string, unknown>;
    if (parsed && typeof parsed === 'object' && 'requestId' in parsed) {
      expect(parsed.requestId).to.equal(id);
      delete parsed.requestId;
    }
    body = parsed;
  } catch {
    // not JSON: compared as text
  }
  return { status: res.statusCode, headers, body, givenId: id === 'given-id-1' };
}

async function boot(
  engine: Engine,
  responses: ResponseInfo[],
  config: Record<string, unknown> = {},
): Promise<TestKernel> {
  return createTestKernel({
    plugins: [app(engine, responses)],
    config: { http: { bodyLimit: '1kb', trustProxy: 1, etag: true, ...config } },
    // Explicit: a suite run with GANTRY_HTTP__ENGINE set still compares both engines here.
    env: { GANTRY_HTTP__ENGINE: engine },
  });
}

describe('http: engines (express and fastify answer alike)', () => {
  it('serves on the engine asked for, express by default', async () => {
    for (const engine of ENGINES) {
      await using tk = await boot(engine, []);
      expect(tk.get(HttpServerToken).engine).to.equal(engine);
    }
    expect(httpConfigSchema.parse({}).engine).to.equal('express');
  });

  it('gives the same status, headers and body for every request of the table (in-process)', async () => {
    const results: Record<Engine, unknown[]> = { express: [], fastify: [] };
    const reported: Record<Engine, ResponseInfo[]> = { express: [], fastify: [] };
    for (const engine of ENGINES) {
      seen[engine] = [];
      await using tk = await boot(engine, reported[engine]);
      for (const r of REQUESTS) results[engine].push(comparable(await tk.inject(r)));
    }
    for (let i = 0; i < REQUESTS.length; i++)
      expect(results.fastify[i], `${REQUESTS[i]!.method ?? 'GET'} ${REQUESTS[i]!.url}`).to.deep.equal(
        results.express[i],
      );
    expect(seen.fastify).to.deep.equal(seen.express);
    // The table is not trivially equal: it holds each kind of answer.
    const statuses = new Set(results.express.map((r) => (r as { status: number }).status));
    for (const s of [200, 201, 202, 204, 400, 404, 405, 413, 415, 500]) expect(statuses, `status ${s}`).to.include(s);
    expect(seen.express).to.have.length(2);
    expect(seen.express[0]).to.deep.include({ ip: '198.51.100.7', host: 'api.test', path: '/api/v1/items/42' });
    expect(seen.express[1]).to.deep.include({ host: 'proxy.test', hostname: 'proxy.test', query: { z: '1' } });
    const strip = (list: ResponseInfo[]) => list.map(({ durationSeconds: _d, ...rest }) => rest);
    expect(strip(reported.fastify)).to.deep.equal(strip(reported.express));
    expect(strip(reported.express)).to.deep.include({
      method: 'GET',
      route: '/api/v1/items/:id',
      status: 200,
      outcome: 'completed',
    });
  });

  it('answers a fresh conditional GET 304 with its ETag on both engines', async () => {
    for (const engine of ENGINES) {
      await using tk = await boot(engine, []);
      const first = await tk.inject({ url: '/api/v1/hello' });
      const etag = first.headers.etag as string;
      expect(etag, engine).to.match(/^W\/"/);
      const again = await tk.inject({ url: '/api/v1/hello', headers: { 'if-none-match': etag } });
      expect(again.statusCode, engine).to.equal(304);
      expect(again.body, engine).to.equal('');
    }
  });

  it('gives the same answers on a real socket (the engine’s own request and response classes)', async () => {
    const results: Record<Engine, unknown[]> = { express: [], fastify: [] };
    const raw = [
      'GET /api/v1/items/42?q=a HTTP/1.1\r\nHost: a.test\r\nX-Forwarded-For: 203.0.113.4\r\nConnection: close\r\n\r\n',
      'GET /api/v1/hello HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n',
      'POST /api/v1/items HTTP/1.1\r\nHost: a.test\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"a":"z"}',
      'HEAD /api/v1/csv HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n',
      'PATCH /api/v1/hello HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n',
    ];
    for (const engine of ENGINES) {
      await using tk = await boot(engine, [], { listen: true, port: 0, host: '127.0.0.1' });
      const { port } = new URL(tk.url());
      for (const text of raw) results[engine].push(comparable(await send(Number(port), text)));
    }
    expect(results.fastify).to.deep.equal(results.express);
    expect(results.express.map((r) => (r as { status: number }).status)).to.deep.equal([200, 400, 201, 200, 405]);
    expect((results.express[0] as { body: { ip: string } }).body.ip).to.equal('203.0.113.4');
  });

  it('refuses at boot a path template the fastify engine cannot serve', async () => {
    const wild = definePlugin({
      name: 'wild',
      version: '0.1.0',
      kernel: '^0.1.0',
      dependsOn: ['http'],
      register(ctx) {
        ctx.http.get('/files/*rest', {}, () => ({}));
      },
    });
    let error: unknown;
    try {
      await createTestKernel({ plugins: [wild], env: { GANTRY_HTTP__ENGINE: 'fastify' } });
    } catch (err) {
      error = err;
    }
    expect(String((error as Error)?.message ?? error)).to.match(/fastify engine serves ":param" templates only/);
  });
});

/** Sends raw HTTP/1.1 text and parses the one response (node's client, so status and headers are exact). */
function send(
  port: number,
  text: string,
): Promise<{ statusCode: number; headers: Record<string, unknown>; body: string }> {
  const head = text.slice(0, text.indexOf('\r\n'));
  const [method, path] = head.split(' ') as [string, string];
  const headerLines = text.slice(text.indexOf('\r\n') + 2, text.indexOf('\r\n\r\n')).split('\r\n');
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  const headers: [string, string][] = headerLines.map((l) => [
    l.slice(0, l.indexOf(':')),
    l.slice(l.indexOf(':') + 1).trim(),
  ]);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { port, host: '127.0.0.1', method, path, headers: headers.flat(), setHost: false },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, headers: { ...res.headers }, body: data }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
