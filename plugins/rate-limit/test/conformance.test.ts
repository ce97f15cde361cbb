import { plugin as httpPlugin } from '@gantry/http';
import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';

describe('rate-limit: conformance', () => {
  for (const [label, config] of [['with the memory store', { store: 'memory' }]] as const) {
    it(`passes every conformance check ${label}`, async () => {
      const results = await checkConformance({ plugin, with: [httpPlugin], config: { 'rate-limit': config } });
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
