import { request } from 'node:http';
import type { TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { RateLimitsToken } from '../src/index.js';
import { boot, CLASSIC_AUTH, PASSWORD } from './harness.js';

/** Sends a raw HTTP request over a real socket, the body written in several chunks. */
function send(
  url: string,
  options: { method: string; headers: Record<string, string>; chunks: readonly Buffer[] },
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method, headers: options.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }),
      );
    });
    req.on('error', reject);
    // Each chunk in its own write and turn of the loop: the body arrives in pieces.
    const write = (i: number): void => {
      if (i === options.chunks.length) return void req.end();
      req.write(options.chunks[i], () => setImmediate(() => write(i + 1)));
    };
    write(0);
  });
}

function split(body: Buffer, parts: number): Buffer[] {
  const size = Math.ceil(body.length / parts);
  return Array.from({ length: parts }, (_, i) => body.subarray(i * size, (i + 1) * size));
}

describe('rate-limit: over a real socket', () => {
  let kernel: TestKernel;
  before(async () => {
    kernel = await boot({
      http: { listen: true, port: 0, host: '127.0.0.1' },
      rateLimit: { store: 'memory', policies: { auth: CLASSIC_AUTH } },
    });
  });
  after(async () => {
    await kernel.stop();
  });

  it('reads the account from a body arriving in pieces and hands the whole body to the handler', async () => {
    const body = Buffer.from(
      JSON.stringify({ email: 'Dave@Example.com', password: PASSWORD, padding: 'p'.repeat(60_000) }),
    );
    const res = await send(`${kernel.url()}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      chunks: split(body, 6),
    });
    expect(res.status, res.body).to.equal(200);
    expect(JSON.parse(res.body)).to.deep.equal({
      ok: true,
      email: 'Dave@Example.com',
      passwordLength: PASSWORD.length,
    });
    expect(String(res.headers['ratelimit'])).to.match(/"auth"; r=9; t=\d+, "auth\.account"; r=9; t=\d+/);
  });

  it('answers the 11th attempt for one account with 429 over HTTP', async () => {
    const attempt = (): Promise<{ status: number; headers: Record<string, unknown>; body: string }> => {
      const body = Buffer.from(JSON.stringify({ email: 'erin@example.com', password: PASSWORD }));
      return send(`${kernel.url()}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
        chunks: [body],
      });
    };
    // The previous test spent one attempt of this IP's auth budget.
    for (let i = 0; i < 9; i++) expect((await attempt()).status, `attempt ${i + 1}`).to.equal(200);
    const refused = await attempt();
    expect(refused.status).to.equal(429);
    expect(refused.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(JSON.parse(refused.body)).to.include({ code: 'GANTRY_RATE_LIMIT_EXCEEDED', policy: 'auth', per: 'ip' });
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 900);
  });

  it('counts a chunked JSON body (no Content-Length) per account', async () => {
    const limits = kernel.get(RateLimitsToken);
    const attempt = (): Promise<{ status: number; headers: Record<string, unknown>; body: string }> =>
      send(`${kernel.url()}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        chunks: [Buffer.from('{"email":"Frank@example.com",'), Buffer.from(`"password":"${PASSWORD}"}`)],
      });
    // This IP spent its auth budget above; the IP counter runs first and would answer 429.
    await limits.reset('auth', { ip: '127.0.0.1' });
    for (let i = 0; i < 10; i++) {
      const res = await attempt();
      expect(res.status, `attempt ${i + 1}: ${res.body}`).to.equal(200);
      expect(JSON.parse(res.body)).to.include({ ok: true, email: 'Frank@example.com' });
      expect(String(res.headers['ratelimit'])).to.match(new RegExp(`"auth\\.account"; r=${9 - i}; t=\\d+`));
    }
    // A fresh IP budget: only the account counter can refuse the 11th.
    await limits.reset('auth', { ip: '127.0.0.1' });
    const refused = await attempt();
    expect(refused.status, refused.body).to.equal(429);
    expect(JSON.parse(refused.body)).to.include({ code: 'GANTRY_RATE_LIMIT_EXCEEDED', policy: 'auth', per: 'account' });
  });
});
