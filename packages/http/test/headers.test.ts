import { definePlugin, type Plugin } from '@gantry/core';
import { expect } from 'chai';
import { createTestKernel, type TestKernel } from './kit.js';

const echo: Plugin = definePlugin({
  name: 'echo',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.get('/id', {}, (req) => ({ id: req.context.requestId }));
  },
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('http: request id and security headers', () => {
  let tk: TestKernel;
  before(async () => {
    tk = await createTestKernel({ plugins: [echo] });
  });
  after(() => tk.stop());

  it('echoes a valid inbound X-Request-Id and uses it in the context', async () => {
    for (const id of ['abc-123', 'trace:01H.x_y', 'a'.repeat(128)]) {
      const res = await tk.inject({ url: '/api/v1/id', headers: { 'x-request-id': id } });
      expect(res.headers['x-request-id']).to.equal(id);
      expect(res.json()).to.deep.equal({ id });
    }
  });

  it('replaces an invalid inbound id (too long, CRLF, spaces, odd characters) with a fresh UUID', async () => {
    for (const id of [
      'a'.repeat(129),
      'has space',
      'a\r\nx-injected: 1',
      'tab\there',
      'semi;colon',
      '<script>',
      'ünï',
      '',
    ]) {
      const res = await tk.inject({ url: '/api/v1/id', headers: { 'x-request-id': id } });
      const sent = res.headers['x-request-id'] as string;
      expect(sent, JSON.stringify(id)).to.match(UUID);
      expect(res.json()).to.deep.equal({ id: sent });
    }
  });

  it('generates a different id per request when none is sent, also on error responses', async () => {
    const a = await tk.inject('/api/v1/id');
    const b = await tk.inject('/nowhere');
    expect(a.headers['x-request-id']).to.match(UUID);
    expect(b.headers['x-request-id']).to.match(UUID);
    expect(a.headers['x-request-id']).not.to.equal(b.headers['x-request-id']);
    expect(b.json()).to.include({ requestId: b.headers['x-request-id'] });
  });

  it('sends the security headers of a JSON API on every response', async () => {
    for (const url of ['/api/v1/id', '/nowhere', '/healthz']) {
      const res = await tk.inject(url);
      const csp = res.headers['content-security-policy'] as string;
      expect(csp.split(';').map((d) => d.trim())).to.include.members(["default-src 'none'", "frame-ancestors 'none'"]);
      expect(res.headers['x-content-type-options']).to.equal('nosniff');
      expect(res.headers['x-frame-options']).to.equal('DENY');
      expect(res.headers['referrer-policy']).to.equal('no-referrer');
      expect(res.headers['cross-origin-resource-policy']).to.equal('same-origin');
      expect(res.headers['cache-control']).to.equal('no-store');
      expect(res.headers['strict-transport-security']).to.equal('max-age=31536000; includeSubDomains');
      expect(res.headers).not.to.have.property('x-powered-by');
    }
  });

  it('leaves out HSTS when hsts is false', async () => {
    await using plain = await createTestKernel({ plugins: [echo], config: { http: { hsts: false } } });
    const res = await plain.inject('/api/v1/id');
    expect(res.headers).not.to.have.property('strict-transport-security');
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
  });

  it('sends no ETag by default and one when etag is true', async () => {
    expect((await tk.inject('/api/v1/id')).headers).not.to.have.property('etag');
    await using tagged = await createTestKernel({ plugins: [echo], config: { http: { etag: true } } });
    expect((await tagged.inject('/api/v1/id')).headers.etag).to.be.a('string');
  });
});
