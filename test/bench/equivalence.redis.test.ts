import { randomUUID } from 'node:crypto';
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
});
