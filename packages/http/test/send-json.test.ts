import { definePlugin, type HttpMiddleware, type Plugin } from '@gantry/core';
import { expect } from 'chai';
import { createTestKernel, type InjectOptions, type InjectResponse } from './kit.js';

/**
 * A handler's JSON result is sent by Gantry's own `sendJson` (no Content-Type set, ETag off) where
 * express would run `res.json`: the answers must be express's, byte for byte, header for header.
 */

interface Case {
  readonly name: string;
  readonly status?: number;
  readonly headers?: Record<string, string>;
  readonly value: unknown;
  readonly request?: Omit<InjectOptions, 'url'>;
}

const LATER = new Date(Date.UTC(2030, 0, 1)).toUTCString();
const EARLIER = new Date(Date.UTC(2020, 0, 1)).toUTCString();

const CASES: readonly Case[] = [
  { name: 'object', value: { hello: 'world', n: 1, list: [true, null] } },
  { name: 'created', status: 201, value: { id: 'a1' } },
  { name: 'string', value: 'text "quoted"' },
  { name: 'null', value: null },
  { name: 'number', value: 42 },
  { name: 'long non-ASCII', value: { text: 'é€😀'.repeat(400) } },
  { name: 'no content', status: 204, value: { dropped: true } },
  { name: 'reset content', status: 205, value: { dropped: true } },
  { name: 'HEAD', value: { hello: 'world' }, request: { method: 'HEAD' } },
  {
    name: 'fresh by ETag',
    headers: { ETag: '"v1"' },
    value: { hello: 'world' },
    request: { headers: { 'if-none-match': '"v1"' } },
  },
  {
    name: 'stale by ETag',
    headers: { ETag: '"v2"' },
    value: { hello: 'world' },
    request: { headers: { 'if-none-match': '"v1"' } },
  },
  {
    name: 'fresh by Last-Modified',
    headers: { 'Last-Modified': EARLIER },
    value: { hello: 'world' },
    request: { headers: { 'if-modified-since': LATER } },
  },
  {
    name: 'conditional on an error status',
    status: 404,
    headers: { ETag: '"v1"' },
    value: { missing: true },
    request: { headers: { 'if-none-match': '"v1"' } },
  },
];

/** Serves every case twice: through a Gantry handler (`/api/v1/gantry/:case`) and express's `res.json` (`/api/v1/express/:case`). */
function twin(): Plugin {
  return definePlugin({
    name: 'twin',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http'],
    register(ctx) {
      const byName = new Map(CASES.map((c, i) => [String(i), c]));
      const viaExpress: HttpMiddleware = (req, res, next) => {
        const m = /^\/api\/v1\/express\/(\d+)$/.exec(req.url ?? '');
        const c = m && byName.get(m[1]!);
        if (!c) return next();
        const r = res as typeof res & { status(code: number): typeof r; json(value: unknown): void };
        r.status(c.status ?? 200);
        for (const [name, value] of Object.entries(c.headers ?? {})) r.setHeader(name, value);
        r.json(c.value);
      };
      ctx.http.use(viaExpress, { name: 'express-json' });
      ctx.http.get('/gantry/:case', { summary: 'One case, through a Gantry handler' }, (req, reply) => {
        const c = byName.get((req.params as { case: string }).case)!;
        if (c.status !== undefined) reply.status(c.status);
        for (const [name, value] of Object.entries(c.headers ?? {})) reply.header(name, value);
        return c.value;
      });
    },
  });
}

function comparable(res: InjectResponse): { status: number; headers: Record<string, unknown>; body: string } {
  const { date: _date, 'x-request-id': _id, connection: _connection, ...headers } = res.headers;
  return { status: res.statusCode, headers, body: res.body };
}

describe('http: JSON results are sent as express sends them', () => {
  for (const engine of ['express', 'fastify'] as const) {
    it(`a handler's result on the ${engine} engine answers as express's res.json does, case by case`, async () => {
      await using viaExpress = await createTestKernel({
        plugins: [twin()],
        config: { http: { engine: 'express' } },
      });
      await using viaGantry = await createTestKernel({ plugins: [twin()], config: { http: { engine } } });
      for (const [i, c] of CASES.entries()) {
        const expected = comparable(await viaExpress.inject({ ...c.request, url: `/api/v1/express/${i}` }));
        const actual = comparable(await viaGantry.inject({ ...c.request, url: `/api/v1/gantry/${i}` }));
        expect(actual, c.name).to.deep.equal(expected);
      }
      // The cases reach the branches they name (a wrong table would pass the comparison vacuously).
      const head = await viaGantry.inject({ method: 'HEAD', url: '/api/v1/gantry/8' });
      expect(head.body).to.equal('');
      expect(Number(head.headers['content-length'])).to.be.greaterThan(0);
      expect(
        (await viaGantry.inject({ url: '/api/v1/gantry/9', headers: { 'if-none-match': '"v1"' } })).statusCode,
      ).to.equal(304);
      expect(
        (await viaGantry.inject({ url: '/api/v1/gantry/11', headers: { 'if-modified-since': LATER } })).statusCode,
      ).to.equal(304);
      const long = await viaGantry.inject('/api/v1/gantry/5');
      expect(Number(long.headers['content-length'])).to.equal(Buffer.byteLength(long.body));
      expect(long.headers['content-type']).to.equal('application/json; charset=utf-8');
    });
  }
});
