import { silentLogger, type Logger } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';

describe('metrics plugin conformance', () => {
  // silentLogger() opens a pino stdout stream, and pino registers a process 'exit' listener while
  // any such stream is alive (on-exit-leak-free). Holding one across the check keeps that listener
  // steady, so `no-global-state` measures this plugin and not whether an earlier logger was GC'd.
  let keepAlive: Logger | undefined;
  before(() => {
    keepAlive = silentLogger();
  });
  after(() => {
    keepAlive = undefined;
  });

  it('passes every check of the conformance kit', async () => {
    expect(keepAlive).not.to.equal(undefined);
    const results = await checkConformance({ plugin, with: [httpPlugin] });
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
