import { expect } from 'chai';
import { FULL_STACK_SERVERS, peerServers, selectServers } from './full-stack.js';
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
});
