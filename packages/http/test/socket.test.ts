// The http plugin on a real socket: port 0 on 127.0.0.1, real clients, draining on stop.
import { connect } from 'node:net';
import { definePlugin, GantryError, type Plugin } from '@gantry/core';
import { expect } from 'chai';
import { HttpServerToken } from '../src/index.js';
import { createTestKernel } from './kit.js';

/** A plugin whose GET /slow waits until the test opens `gate`; `started` resolves when it begins. */
function slowPlugin(): { plugin: Plugin; started: Promise<void>; open(): void } {
  let open!: () => void;
  let onStart!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const started = new Promise<void>((r) => (onStart = r));
  const plugin = definePlugin({
    name: 'slow',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http'],
    register(ctx) {
      ctx.http.get('/slow', {}, async () => {
        onStart();
        await gate;
        return { done: true };
      });
      ctx.http.get('/fast', {}, () => ({ fast: true }));
    },
  });
  return { plugin, started, open };
}

const listening = { http: { listen: true, port: 0, host: '127.0.0.1' } };

describe('http: real socket', () => {
  it('listens on a free port and serves real requests', async () => {
    const slow = slowPlugin();
    await using tk = await createTestKernel({ plugins: [slow.plugin], config: listening });
    const url = tk.url();
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(tk.get(HttpServerToken).address()!.port).to.be.above(0);
    const res = await fetch(`${url}/api/v1/fast`, { headers: { connection: 'close' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('x-request-id')).to.be.a('string');
    expect(await res.json()).to.deep.equal({ fast: true });
  });

  it('stop() waits for in-flight requests to finish, then refuses new connections', async () => {
    const slow = slowPlugin();
    const tk = await createTestKernel({ plugins: [slow.plugin], config: listening });
    const url = tk.url();
    const inFlight = fetch(`${url}/api/v1/slow`, { headers: { connection: 'close' } });
    await slow.started;
    let stopped = false;
    const stopping = tk.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(stopped, 'stop() must wait for the in-flight request').to.equal(false);
    const refused = await fetch(`${url}/api/v1/fast`).then(
      (r) => `answered ${r.status}`,
      (err: Error & { cause?: { code?: string } }) => err.cause?.code,
    );
    expect(refused).to.be.oneOf(['ECONNREFUSED', 'ECONNRESET']);
    slow.open();
    const res = await inFlight;
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ done: true });
    await stopping;
    expect(stopped).to.equal(true);
  });

  it('during the drain, a request on an open keep-alive connection is answered with Connection: close', async () => {
    const slow = slowPlugin();
    const tk = await createTestKernel({ plugins: [slow.plugin], config: listening });
    const { port } = tk.get(HttpServerToken).address()!;
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8').on('data', (c: string) => (received += c));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write('GET /api/v1/slow HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await slow.started;
    const stopping = tk.stop();
    await new Promise((r) => setTimeout(r, 20));
    socket.write('GET /api/v1/fast HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    await new Promise((r) => setTimeout(r, 20));
    slow.open();
    await closed;
    await stopping;
    const responses = received.split(/(?=HTTP\/1\.1 )/);
    expect(responses, received).to.have.length(2);
    expect(responses[0]).to.match(/^HTTP\/1\.1 200 OK/);
    expect(responses[0]).to.include('{"done":true}');
    expect(responses[1]).to.match(/^HTTP\/1\.1 200 OK/);
    expect(responses[1]).to.match(/\r\nconnection: close\r\n/i);
    expect(responses[1]).to.include('{"fast":true}');
  });

  it('fails to start with GANTRY_HTTP_LISTEN_FAILED when the port is taken', async () => {
    await using first = await createTestKernel({ plugins: [], config: listening });
    const { port } = first.get(HttpServerToken).address()!;
    try {
      await createTestKernel({ plugins: [], config: { http: { listen: true, port, host: '127.0.0.1' } } });
      expect.fail('the second kernel must not start');
    } catch (err) {
      expect(GantryError.is(err)).to.equal(true);
      const cause = (err as GantryError).cause as GantryError;
      expect((err as GantryError).code).to.equal('GANTRY_CORE_HOOK_FAILED');
      expect(cause.code).to.equal('GANTRY_HTTP_LISTEN_FAILED');
      expect(cause.message).to.equal(`cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
    }
  });
});
