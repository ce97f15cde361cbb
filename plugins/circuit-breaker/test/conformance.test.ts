import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';

describe('circuit-breaker: conformance', () => {
  for (const [label, config] of [
    ['without policies', {}],
    [
      'with every stage configured',
      {
        policies: {
          payments: {
            order: ['bulkhead', 'retry', 'breaker', 'timeout'],
            bulkhead: { limit: 2, queue: 2 },
            retry: { maxAttempts: 2 },
            breaker: { kind: 'sampling', threshold: 0.3 },
            timeout: { ms: 500 },
          },
        },
      },
    ],
  ] as const) {
    it(`passes every conformance check ${label}`, async () => {
      const results = await checkConformance({ plugin, config: { 'circuit-breaker': config } });
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
