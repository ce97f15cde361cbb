// WebSocket upgrades through the repo's nginx config (/ws and /graphql). The sandbox on this branch has
// no WebSocket route yet (the websocket and graphql plugins are on their own branches), so the upstreams
// here are two small Node servers that complete the RFC 6455 handshake and echo: what is under test is
// nginx passing Upgrade/Connection through TLS and keeping the tunnel open, both ways.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { type ChildProcess, spawn } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { expect } from 'chai';
import { freePort } from '../support/sandbox-ports.js';
import { until } from './loopback.js';
import { devCert, ensureNginx, pathWithSbin, templateNginx } from './support.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const accept = (key: string) =>
  createHash('sha1')
    .update(key + GUID)
    .digest('base64');

function echoServer(name: string): Server {
  const server = createServer((_req, res) => res.end(name));
  server.on('upgrade', (req, socket: Duplex) => {
    const key = String(req.headers['sec-websocket-key']);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(key)}\r\nX-Upstream: ${name}\r\nX-Seen-Path: ${req.url}\r\n\r\n`,
    );
    socket.on('data', (d: Buffer) => socket.write(d)); // raw echo: enough to prove the tunnel
  });
  return server;
}

describe('WebSocket upgrade through nginx (deploy/nginx, /ws and /graphql)', function () {
  this.timeout(60_000);
  let dir: string;
  let nginx: ChildProcess;
  let https443: number;
  let ca: Buffer;
  const servers: Server[] = [];

  before(async function () {
    this.timeout(300_000);
    ensureNginx();
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-ws-'));
    const upstreams: number[] = [];
    for (const name of ['app-1', 'app-2']) {
      const port = await freePort();
      const server = echoServer(name);
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      servers.push(server);
      upstreams.push(port);
    }
    https443 = await freePort();
    const ports = { http: await freePort(), https: https443, health: await freePort(), upstreams };
    mkdirSync(path.join(dir, 'tmp'));
    devCert(path.join(dir, 'certs'));
    ca = readFileSync(path.join(dir, 'certs/dev.crt'));
    const { main, site } = templateNginx(dir, ports);
    writeFileSync(path.join(dir, 'nginx.conf'), main);
    writeFileSync(path.join(dir, 'gantry.conf'), site);
    nginx = spawn(
      'nginx',
      ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'],
      {
        env: { ...process.env, PATH: pathWithSbin },
        stdio: 'ignore',
      },
    );
    await until('nginx', async () => (await fetch(`http://127.0.0.1:${ports.health}/nginx-health`)).ok, 15_000);
  });

  after(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx.once('exit', r));
      nginx.kill('SIGTERM');
      await exited;
    }
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function upgrade(pathname: string): Promise<{ status: number; headers: Record<string, unknown>; socket?: Duplex }> {
    const key = Buffer.from(`gantry-${pathname}-key!`).toString('base64');
    return new Promise((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1',
        servername: 'localhost',
        port: https443,
        path: pathname,
        ca: [ca],
        agent: false,
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': key,
        },
      });
      req.on('upgrade', (res, socket) => {
        expect(res.headers['sec-websocket-accept']).to.equal(accept(key));
        resolve({ status: res.statusCode ?? 0, headers: res.headers, socket });
      });
      req.on('response', (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, headers: res.headers });
      });
      req.on('error', reject);
      req.end();
    });
  }

  for (const route of ['/ws', '/graphql']) {
    it(`upgrades ${route} and carries data both ways`, async () => {
      const { status, headers, socket } = await upgrade(route);
      expect(status).to.equal(101);
      expect(headers['x-seen-path']).to.equal(route);
      const echoed = new Promise<string>((resolve) => socket!.once('data', (d: Buffer) => resolve(String(d))));
      socket!.write('ping through nginx');
      expect(await echoed).to.equal('ping through nginx');
      socket!.destroy();
    });
  }

  it('does not upgrade other paths (Connection is cleared for the keepalive pool)', async () => {
    const { status, socket } = await upgrade('/api/v1/anything');
    socket?.destroy();
    expect(status).to.equal(200);
  });
});
