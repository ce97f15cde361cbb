// HttpServer.onUpgrade: upgrade requests handed to the plugin that claimed their path, on a real socket.
import { connect, type Socket } from 'node:net';
import { definePlugin, type Plugin } from '@gantry/core';
import { expect } from 'chai';
import { HttpErrors, HttpServerToken } from '../src/index.js';
import { createTestKernel } from './kit.js';

const listening = { http: { listen: true, port: 0, host: '127.0.0.1' } };

/** Claims /echo (answers 101 then echoes bytes) and /refuse (throws a coded error). */
const echo: Plugin = definePlugin({
  name: 'echo',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    const server = ctx.container.get(HttpServerToken);
    server.onUpgrade(
      '/echo',
      (_req, socket) => {
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
        socket.on('data', (d) => socket.write(d));
        socket.on('end', () => socket.end());
      },
      ctx.name,
    );
    server.onUpgrade(
      '/refuse',
      async () => {
        throw HttpErrors.BAD_REQUEST('refused by the test handler', { details: { reason: 'test' } });
      },
      ctx.name,
    );
    server.onUpgrade(
      '/broken',
      () => {
        throw HttpErrors.INTERNAL('pool exhausted at db-7.internal');
      },
      ctx.name,
    );
    // Answers with the client address as routes see it, to check trustProxy applies to upgrades.
    server.onUpgrade(
      '/ip',
      (req, socket) => {
        const ip = server.clientIp(req);
        socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${ip.length}\r\nconnection: close\r\n\r\n${ip}`);
      },
      ctx.name,
    );
  },
});

/** Sends a raw upgrade request; resolves with everything received until `until` matches or the socket ends. */
function upgrade(
  port: number,
  path: string,
  send?: string,
  until?: RegExp,
  headers = '',
): Promise<{ text: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (d) => {
      text += String(d);
      if (until?.test(text)) resolve({ text, socket });
      else if (send && text.includes('\r\n\r\n') && text.startsWith('HTTP/1.1 101') && !text.includes(send))
        socket.write(send);
    });
    socket.on('end', () => resolve({ text, socket }));
    socket.on('error', reject);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n${headers}\r\n`);
  });
}

describe('http: onUpgrade', () => {
  it('hands the socket of an upgrade on its path to the handler', async () => {
    await using tk = await createTestKernel({ plugins: [echo], config: listening });
    const port = tk.get(HttpServerToken).address()!.port;
    const { text, socket } = await upgrade(port, '/echo?x=1', 'ping!', /ping!/);
    socket.destroy();
    expect(text).to.match(/^HTTP\/1\.1 101 /);
    expect(text).to.include('ping!');
  });

  it('answers 404 problem+json on a path nobody claimed, and the handler’s coded error when it throws', async () => {
    await using tk = await createTestKernel({ plugins: [echo], config: listening });
    const port = tk.get(HttpServerToken).address()!.port;
    const unknown = await upgrade(port, '/nowhere');
    expect(unknown.text).to.match(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(unknown.text).to.include('content-type: application/problem+json');
    expect(unknown.text).to.include('"code":"GANTRY_HTTP_NOT_FOUND"');
    const refused = await upgrade(port, '/refuse');
    expect(refused.text).to.match(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(refused.text).to.include('"code":"GANTRY_HTTP_BAD_REQUEST"');
    expect(refused.text, 'details, as in a route problem').to.include('"reason":"test"');
  });

  it('withholds the message of a server fault, as routes do', async () => {
    await using tk = await createTestKernel({ plugins: [echo], config: listening });
    const port = tk.get(HttpServerToken).address()!.port;
    const broken = await upgrade(port, '/broken');
    expect(broken.text).to.match(/^HTTP\/1\.1 500 Internal Server Error\r\n/);
    expect(broken.text).to.include('"code":"GANTRY_HTTP_INTERNAL"');
    expect(broken.text).not.to.include('db-7');
  });

  it('gives upgrade handlers the client address routes see: trustProxy applied', async () => {
    const forwarded = 'X-Forwarded-For: 203.0.113.9\r\n';
    await using direct = await createTestKernel({ plugins: [echo], config: listening });
    const a = await upgrade(direct.get(HttpServerToken).address()!.port, '/ip', undefined, undefined, forwarded);
    expect(a.text).to.match(/\r\n\r\n(::ffff:)?127\.0\.0\.1$/);
    await using proxied = await createTestKernel({
      plugins: [echo],
      config: { http: { ...listening.http, trustProxy: 1 } },
    });
    const b = await upgrade(proxied.get(HttpServerToken).address()!.port, '/ip', undefined, undefined, forwarded);
    expect(b.text).to.match(/\r\n\r\n203\.0\.113\.9$/);
  });

  it('refuses a second claim on the same path at register', async () => {
    const twice = definePlugin({
      name: 'twice',
      version: '0.1.0',
      kernel: '^0.1.0',
      dependsOn: ['http'],
      register(ctx) {
        const server = ctx.container.get(HttpServerToken);
        server.onUpgrade('/x', () => undefined, ctx.name);
        server.onUpgrade('/x', () => undefined, ctx.name);
      },
    });
    let caught: unknown;
    try {
      await createTestKernel({ plugins: [twice] });
    } catch (err) {
      caught = err;
    }
    expect((caught as { cause?: { code?: string } }).cause?.code).to.equal('GANTRY_HTTP_ROUTE_CONFLICT');
  });
});
