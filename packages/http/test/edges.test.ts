// What the audit found at the edges of the HTTP layer: parser errors, duplicate Host, readiness
// details, CORS, case-sensitive paths and the default interface.
import { connect } from 'node:net';
import { definePlugin, type Plugin } from '@gantry/core';
import { expect } from 'chai';
import { httpConfigSchema } from '../src/index.js';
import { createTestKernel } from './kit.js';

const things: Plugin = definePlugin({
  name: 'things',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.get('/things', {}, () => ['a']);
    ctx.http.post('/things', {}, () => ({ created: true }));
    ctx.health.check(() => ({ status: 'up', details: { store: 'memory', issuer: 'https://idp.internal' } }));
  },
});

const listening = { listen: true, port: 0, host: '127.0.0.1' };

/** Sends raw bytes on a new connection and returns everything the server wrote before closing. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => {
      socket.destroy();
      reject(new Error(`no answer; got so far: ${out}`));
    });
    socket.write(bytes);
  });
}

/** Status line and problem body of a raw HTTP/1.1 answer. */
function parse(answer: string): { status: number; contentType: string | undefined; body: Record<string, unknown> } {
  const [head, body] = answer.split('\r\n\r\n', 2) as [string, string];
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const contentType = /^content-type: (.*)$/im.exec(head)?.[1];
  return { status, contentType, body: JSON.parse(body) as Record<string, unknown> };
}

describe('http: edges', () => {
  describe("errors of Node's HTTP parser", () => {
    it('answer problem+json: bad framing and unknown methods 400, an oversized header block 431, Expect other than 100-continue 417', async () => {
      await using tk = await createTestKernel({ plugins: [things], config: { http: listening } });
      const port = Number(new URL(tk.url()).port);
      const cases: [string, number, string][] = [
        ['GARBAGE\r\n\r\n', 400, 'GANTRY_HTTP_BAD_REQUEST'],
        ['FOO /api/v1/things HTTP/1.1\r\nhost: x\r\n\r\n', 400, 'GANTRY_HTTP_BAD_REQUEST'],
        [
          'POST /api/v1/things HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
          400,
          'GANTRY_HTTP_BAD_REQUEST',
        ],
        [
          `GET /api/v1/things HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
          431,
          'GANTRY_HTTP_HEADERS_TOO_LARGE',
        ],
        [
          'POST /api/v1/things HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
          417,
          'GANTRY_HTTP_EXPECTATION_FAILED',
        ],
      ];
      for (const [bytes, status, code] of cases) {
        const answer = parse(await raw(port, bytes));
        expect(answer.status, bytes.slice(0, 40)).to.equal(status);
        expect(answer.contentType).to.match(/^application\/problem\+json/);
        expect(answer.body).to.include({ status, code });
      }
    });

    it('refuses a request with two Host headers with 400 (RFC 9112 §3.2)', async () => {
      await using tk = await createTestKernel({ plugins: [things], config: { http: listening } });
      const port = Number(new URL(tk.url()).port);
      const answer = parse(
        await raw(
          port,
          'GET /api/v1/things HTTP/1.1\r\nHost: a.example\r\nhost: b.example\r\nconnection: close\r\n\r\n',
        ),
      );
      expect(answer.status).to.equal(400);
      expect(answer.body).to.include({
        code: 'GANTRY_HTTP_BAD_REQUEST',
        detail: 'the request has more than one Host header',
      });
      const one = await raw(port, 'GET /api/v1/things HTTP/1.1\r\nHost: a.example\r\nconnection: close\r\n\r\n');
      expect(one).to.match(/^HTTP\/1\.1 200/);
    });
  });

  describe('/readyz', () => {
    it('gives the per-plugin checks to loopback callers only; others (and forwarded requests) get the status', async () => {
      await using tk = await createTestKernel({ plugins: [things] });
      const local = await tk.inject({ url: '/readyz' });
      expect(local.statusCode).to.equal(200);
      expect(local.json<{ checks: Record<string, unknown> }>().checks).to.have.property('things');
      for (const options of [
        { url: '/readyz', remoteAddress: '203.0.113.9' },
        { url: '/readyz', headers: { 'x-forwarded-for': '203.0.113.9' } },
      ]) {
        const remote = await tk.inject(options);
        expect(remote.statusCode).to.equal(200);
        expect(remote.json()).to.deep.equal({ status: 'ready', shuttingDown: false });
        expect(remote.body).not.to.include('idp.internal');
      }
    });

    it('"always" and "never" override the loopback rule', async () => {
      await using always = await createTestKernel({
        plugins: [things],
        config: { http: { readinessDetails: 'always' } },
      });
      expect((await always.inject({ url: '/readyz', remoteAddress: '203.0.113.9' })).json()).to.have.property('checks');
      await using never = await createTestKernel({
        plugins: [things],
        config: { http: { readinessDetails: 'never' } },
      });
      expect((await never.inject({ url: '/readyz' })).json()).to.deep.equal({ status: 'ready', shuttingDown: false });
    });
  });

  describe('CORS', () => {
    const origin = 'https://app.example.com';

    it('is off by default: no Access-Control-* header, and a preflight is not answered as allowed', async () => {
      await using tk = await createTestKernel({ plugins: [things] });
      const res = await tk.inject({ url: '/api/v1/things', headers: { origin } });
      expect(res.headers['access-control-allow-origin']).to.equal(undefined);
      const pre = await tk.inject({
        method: 'OPTIONS',
        url: '/api/v1/things',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
      expect(pre.headers['access-control-allow-origin']).to.equal(undefined);
    });

    it('answers preflights of listed origins (204, methods, headers, max age), with credentials when asked, and not others', async () => {
      await using tk = await createTestKernel({
        plugins: [things],
        config: { http: { cors: { origins: [origin], credentials: true, maxAgeSeconds: 300 } } },
      });
      const pre = await tk.inject({
        method: 'OPTIONS',
        url: '/api/v1/things',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,authorization,x-csrf-token',
        },
      });
      expect(pre.statusCode).to.equal(204);
      expect(pre.headers['access-control-allow-origin']).to.equal(origin);
      expect(pre.headers['access-control-allow-credentials']).to.equal('true');
      expect(String(pre.headers['access-control-allow-methods'])).to.include('POST');
      expect(String(pre.headers['access-control-allow-headers'])).to.include('x-csrf-token');
      expect(pre.headers['access-control-max-age']).to.equal('300');
      expect(String(pre.headers.vary)).to.match(/origin/i);
      const get = await tk.inject({ url: '/api/v1/things', headers: { origin } });
      expect(get.headers['access-control-allow-origin']).to.equal(origin);
      expect(String(get.headers['access-control-expose-headers'])).to.include('x-request-id');
      const other = await tk.inject({
        method: 'OPTIONS',
        url: '/api/v1/things',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      expect(other.headers['access-control-allow-origin']).to.equal(undefined);
      expect(other.headers['access-control-allow-credentials']).to.equal(undefined);
    });

    it('refuses credentials with "*" and origins that are not origins at boot', () => {
      expect(httpConfigSchema.safeParse({ cors: { origins: '*', credentials: true } }).success).to.equal(false);
      expect(httpConfigSchema.safeParse({ cors: { origins: ['https://app.example.com/path'] } }).success).to.equal(
        false,
      );
      expect(httpConfigSchema.safeParse({ cors: { origins: '*' } }).success).to.equal(true);
    });
  });

  it('paths are case-sensitive, in routing and in the 405 table alike', async () => {
    await using tk = await createTestKernel({ plugins: [things] });
    expect((await tk.inject('/api/v1/things')).statusCode).to.equal(200);
    expect((await tk.inject('/API/V1/things')).statusCode).to.equal(404);
    expect((await tk.inject({ method: 'PUT', url: '/API/V1/THINGS' })).statusCode).to.equal(404);
    expect((await tk.inject({ method: 'PUT', url: '/api/v1/things' })).statusCode).to.equal(405);
  });

  it('binds loopback unless told otherwise', () => {
    expect(httpConfigSchema.parse({}).host).to.equal('127.0.0.1');
  });
});
