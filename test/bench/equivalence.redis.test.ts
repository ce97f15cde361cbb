import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import {
  benchKey,
  benchTokens,
  checkEquivalence,
  dropPrefix,
  FULL_STACK_SERVERS,
  type FullStackName,
  revokeBenchFamily,
  startFullServer,
  stopFullServer,
} from './full-stack.js';

// The servers of the full-stack benchmark must do the same work before their figures mean anything:
// the same 200 body for a good token; 401 for a missing, expired, wrong-audience, wrong-issuer,
// wrong-typ, unknown-kid or revoked token; 403 for a subject without the role; helmet headers.
describe('bench: the full-stack servers answer alike (Redis)', function () {
  this.timeout(120_000);
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  const run = `gantry-bench-test:${randomUUID().slice(0, 8)}:`;

  after(async () => {
    await dropPrefix(redis, run);
    redis.disconnect();
  });

  for (const name of Object.keys(FULL_STACK_SERVERS) as FullStackName[]) {
    it(`${name}: 200 with the same body, 401 and 403 where the others answer them`, async () => {
      const key = benchKey();
      const tokens = await benchTokens(key);
      const prefix = `${run}${name}:`;
      await revokeBenchFamily(redis, prefix);
      const server = await startFullServer(name, { key, token: tokens.good, prefix });
      try {
        expect(await checkEquivalence(server.port, tokens)).to.deep.equal([]);
        // The rate limit was counted in Redis under this server's prefix.
        const keys = await redis.keys(`${prefix}rl:*`);
        expect(keys.length, `rate-limit keys under ${prefix}rl:`).to.be.greaterThan(0);
      } finally {
        await stopFullServer(server);
      }
    });
  }

  // BENCH_PEERS's form: a command line written elsewhere, told its port in PORT, its own output kept off
  // the report. This bench's Fastify peer run that way answers exactly as when the bench spawns it.
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'servers', 'fastify-full.js');
  const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

  it('a server given as a command (BENCH_PEERS) listens on the PORT it is given and is checked alike', async () => {
    const key = benchKey();
    const tokens = await benchTokens(key);
    const prefix = `${run}peer:`;
    await revokeBenchFamily(redis, prefix);
    const spec = { command: `${quote(process.execPath)} ${quote(script)}`, env: {} };
    const server = await startFullServer('myFastify', { key, token: tokens.good, prefix, spec });
    try {
      expect(await checkEquivalence(server.port, tokens)).to.deep.equal([]);
      // exec'd by sh: the measured pid is the server's own process, not a shell around it.
      expect(readFileSync(`/proc/${server.child.pid}/cmdline`, 'utf8').split('\0')).to.include(script);
    } finally {
      await stopFullServer(server);
    }
  });

  it('a command that exits before serving is reported with its exit status, not waited for', async () => {
    const key = benchKey();
    const tokens = await benchTokens(key);
    const spec = { command: `${quote(process.execPath)} -e 'process.exit(3)'`, env: {} };
    let failure: unknown;
    // A deadline far past this suite's timeout: only noticing the exit ends the wait in time.
    await startFullServer('broken', {
      key,
      token: tokens.good,
      prefix: `${run}broken:`,
      spec,
      timeoutMs: 3_600_000,
    }).catch((err: unknown) => {
      failure = err;
    });
    expect(String(failure)).to.match(/broken \(.*\) exited with 3/);
  });
});
