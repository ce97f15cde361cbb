import { plugin as httpPlugin } from '@gantry/http';
import { plugin as redisPlugin } from '@gantry/plugin-redis';
import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';
import { deleteKeys, REDIS_URL, uniquePrefix } from './harness.js';

describe('rate-limit: conformance with the redis store (real Redis)', () => {
  const prefix = uniquePrefix();
  after(async () => {
    await deleteKeys(prefix);
  });

  for (const [label, config] of [['with the redis store', { store: 'redis', prefix }]] as const) {
    it(`passes every conformance check ${label}`, async () => {
      const results = await checkConformance({
        plugin,
        with: [httpPlugin, redisPlugin],
        config: { redis: { url: REDIS_URL }, 'rate-limit': config },
      });
      const failed = results.filter((r) => !r.ok).map((r) => `${r.check}: ${r.message}`);
      expect(failed).to.deep.equal([]);
      expect(results.map((r) => r.check)).to.include.members([
        'metadata',
        'config-documented',
        'boots',
        'health-check',
        'ready',
        'isolated',
        'stops',
        'no-leaked-handles',
        'no-global-state',
      ]);
    });
  }
});
