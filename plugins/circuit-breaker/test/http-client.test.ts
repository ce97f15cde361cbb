import type { TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { CircuitBreakerErrors, CircuitBreakersToken } from '../src/index.js';
import { boot } from './harness.js';
import { Upstream } from './upstream.js';

describe('circuit-breaker: httpClient', () => {
  let upstream: Upstream;
  let kernel: TestKernel;

  before(async () => {
    upstream = await Upstream.start();
    kernel = await boot({ upstream: upstream.url, policies: { api: { order: ['timeout'], timeout: { ms: 2_000 } } } });
  });
  beforeEach(() => upstream.reset());
  after(async () => {
    await kernel.stop();
    await upstream.close();
  });

  it('appends paths to the base path and sends default and per-request headers', async () => {
    const client = kernel
      .get(CircuitBreakersToken)
      .httpClient('api', { baseUrl: `${upstream.url}/v2/`, headers: { 'x-api-key': 'k1', 'x-tenant': 'a' } });
    const res = await client.get('/things?limit=2', { headers: { 'x-tenant': 'b' } });
    expect(res.status).to.equal(200);
    expect(upstream.seen[0]).to.deep.include({ method: 'GET', url: '/v2/things?limit=2' });
    expect(upstream.seen[0]!.headers['x-api-key']).to.equal('k1');
    expect(upstream.seen[0]!.headers['x-tenant']).to.equal('b');
    await client.get('relative');
    expect(upstream.seen[1]!.url).to.equal('/v2/relative');
    await client.get('/https://elsewhere.example/x');
    expect(upstream.seen[2]!.url, 'a path never switches host').to.equal('/v2/https://elsewhere.example/x');
  });

  it('serialises `json` bodies and keeps the response body readable after the call', async () => {
    const client = kernel.get(CircuitBreakersToken).httpClient('api', { baseUrl: upstream.url });
    const res = await client.post('/orders', { json: { sku: 'A-1', qty: 2 } });
    // The body is read after execute() returned: the policy signal must not have cut it.
    expect(await res.json()).to.deep.equal({ status: 200, hit: 1 });
    expect(upstream.seen[0]).to.deep.include({ method: 'POST', url: '/orders', body: '{"sku":"A-1","qty":2}' });
    expect(upstream.seen[0]!.headers['content-type']).to.equal('application/json');
  });

  it('reports the failing status and the path without its query string', async () => {
    const client = kernel.get(CircuitBreakersToken).httpClient('api', { baseUrl: upstream.url });
    upstream.next({ status: 500 });
    const err = await client.delete('/orders/7?token=secret').then(
      () => expect.fail('expected a rejection'),
      (e: unknown) => e as { code: string; details: Record<string, unknown>; message: string },
    );
    expect(err.code).to.equal('GANTRY_CIRCUIT_BREAKER_UPSTREAM_FAILED');
    expect(err.details).to.deep.include({
      upstreamStatus: 500,
      method: 'DELETE',
      path: '/orders/7',
      policy: 'api',
      attempts: 1,
    });
    expect(err.message).not.to.contain('secret');
  });

  it('lets the caller choose which statuses are failures', async () => {
    const client = kernel
      .get(CircuitBreakersToken)
      .httpClient('api', { baseUrl: upstream.url, isFailureStatus: (s) => s >= 400 });
    upstream.next({ status: 409 });
    const err = await client.put('/orders/7').catch((e: unknown) => e);
    expect(CircuitBreakerErrors.UPSTREAM_FAILED.is(err)).to.equal(true);
  });

  it('maps an unreachable upstream to UPSTREAM_FAILED with the network error as cause', async () => {
    const closed = await Upstream.start();
    const url = closed.url;
    await closed.close();
    const client = kernel.get(CircuitBreakersToken).httpClient('api', { baseUrl: url });
    const err = await client.get('/x').then(
      () => expect.fail('expected a rejection'),
      (e: unknown) => e as { code: string; message: string; cause: unknown },
    );
    expect(err.code).to.equal('GANTRY_CIRCUIT_BREAKER_UPSTREAM_FAILED');
    expect(err.message).to.contain('ECONNREFUSED');
    expect(err.cause).to.be.instanceOf(TypeError);
  });

  it('rejects a base URL that is not absolute http(s)', () => {
    const breakers = kernel.get(CircuitBreakersToken);
    for (const baseUrl of ['payments.internal', 'ftp://host/x', 'http://host/?q=1']) {
      expect(() => breakers.httpClient('api', { baseUrl }), baseUrl)
        .to.throw(/baseUrl/)
        .with.property('code', 'GANTRY_CIRCUIT_BREAKER_HTTP_CLIENT_INVALID');
    }
  });
});
