import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { FULL_STACK_SERVERS, peerServers } from './full-stack.js';
import { parsePeers, sameJson, selectServers, startPeer } from './peers.js';
import { shellCommand } from './process.js';

// Servers written elsewhere join the full-stack comparison through BENCH_PEERS; a malformed value is
// refused with its reason before any server starts.
describe('bench: servers written elsewhere (BENCH_PEERS)', () => {
  it('reads name → command, trimmed; unset or blank gives none', () => {
    expect(peerServers(undefined)).to.deep.equal({});
    expect(peerServers('  ')).to.deep.equal({});
    expect(
      peerServers('{"myNest":" node /srv/nest/dist/main.js ","my-fastify_2":"/usr/local/bin/server"}'),
    ).to.deep.equal({
      myNest: { command: 'node /srv/nest/dist/main.js', env: {} },
      'my-fastify_2': { command: '/usr/local/bin/server', env: {} },
    });
  });

  it('refuses what is not a JSON object of non-empty commands, naming the fault', () => {
    expect(() => peerServers('myNest=node main.js')).to.throw(/BENCH_PEERS is not JSON/);
    expect(() => peerServers('["node main.js"]')).to.throw(/must be a JSON object/);
    expect(() => peerServers('null')).to.throw(/must be a JSON object/);
    expect(() => peerServers('{"myNest":""}')).to.throw(/the command of "myNest" must be a non-empty string/);
    expect(() => peerServers('{"myNest":["node","main.js"]}')).to.throw(/the command of "myNest"/);
    expect(() => peerServers('{"my nest":"node main.js"}')).to.throw(/"my nest" is not a server name/);
    expect(() => peerServers('{"1st":"node main.js"}')).to.throw(/"1st" is not a server name/);
  });

  it("refuses a name this bench's own servers use", () => {
    for (const name of Object.keys(FULL_STACK_SERVERS))
      expect(() => peerServers(JSON.stringify({ [name]: 'node main.js' }))).to.throw(
        /already one of this bench's servers/,
      );
  });

  it('BENCH_SERVERS picks servers in the run order and refuses unknown names', () => {
    const known = ['gantry', 'nest', 'myNest'];
    expect(selectServers(known, undefined)).to.deep.equal(known);
    expect(selectServers(known, '')).to.deep.equal(known);
    expect(selectServers(known, 'myNest, gantry')).to.deep.equal(['gantry', 'myNest']);
    expect(() => selectServers(known, 'gantry,mynest')).to.throw(
      'BENCH_SERVERS: no server named mynest; the servers are gantry, nest, myNest',
    );
  });

  it("runs a peer's command as one program, pinned when a core is given (its pid is the program's)", () => {
    expect(shellCommand('node main.js')).to.deep.equal(['sh', ['-c', 'exec node main.js']]);
    expect(shellCommand('node main.js', 1)).to.deep.equal(['taskset', ['-c', '1', 'sh', '-c', 'exec node main.js']]);
  });

  it('BENCH_HELLO_PEERS is read the same way, its errors naming it and the hello servers', () => {
    expect(parsePeers('{"theirFastify":"node server.js"}', 'BENCH_HELLO_PEERS', ['fastify'])).to.deep.equal({
      theirFastify: 'node server.js',
    });
    expect(() => parsePeers('{', 'BENCH_HELLO_PEERS', [])).to.throw(/^BENCH_HELLO_PEERS is not JSON/);
    expect(() => parsePeers('{"fastify":"node server.js"}', 'BENCH_HELLO_PEERS', ['fastify'])).to.throw(
      'BENCH_HELLO_PEERS: "fastify" is already one of this bench\'s servers',
    );
  });

  it("compares a peer's body as JSON: spacing aside, nothing else", () => {
    expect(sameJson('{ "hello" : "world" }\n', { hello: 'world' })).to.equal(true);
    expect(sameJson('{"hello":"World"}', { hello: 'world' })).to.equal(false);
    expect(sameJson('{"hello":"world","extra":1}', { hello: 'world' })).to.equal(false);
    expect(sameJson('<html>Cannot GET</html>', { hello: 'world' })).to.equal(false);
  });

  it('starts a peer on the PORT it is given and returns its first 200', async function () {
    this.timeout(60_000);
    const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'servers', 'fastify.js');
    const peer = await startPeer('theirFastify', `'${process.execPath}' '${script}'`, { path: '/api/v1/hello' });
    try {
      expect(sameJson(peer.body, { hello: 'world' })).to.equal(true);
      const res = await fetch(`http://127.0.0.1:${peer.port}/api/v1/hello`);
      expect(res.status).to.equal(200);
    } finally {
      const exited = new Promise((resolve) => peer.child.once('exit', resolve));
      peer.child.kill('SIGTERM');
      await exited;
    }
  });

  it('refuses a peer that never answers 200, naming the last status', async function () {
    this.timeout(60_000);
    // Listens on PORT and answers 404 to everything.
    const server = `require('node:http').createServer((q, s) => { s.statusCode = 404; s.end(); }).listen(process.env.PORT, '127.0.0.1')`;
    let failure: unknown;
    await startPeer('lost', `'${process.execPath}' -e "${server}"`, { path: '/api/v1/hello', timeoutMs: 1_000 }).catch(
      (err: unknown) => {
        failure = err;
      },
    );
    expect(String(failure)).to.match(/\/api\/v1\/hello: no 200 within 1000 ms \(last 404\)/);
  });
});
