import { plugin as httpPlugin } from '@gantry/http';
import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';

describe('auth-jwt: conformance', () => {
  it('passes every conformance check with the memory store and generated keys', async () => {
    const results = await checkConformance({
      plugin,
      with: [httpPlugin],
      config: { 'auth-jwt': { issuer: 'https://auth.test', audience: 'gantry-test', store: 'memory' } },
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
});
