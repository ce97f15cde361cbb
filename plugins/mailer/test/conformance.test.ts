import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger, type Logger } from '@gantry/core';
import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';

describe('mailer plugin conformance', () => {
  // silentLogger() opens a pino stdout stream, and pino registers a process 'exit' listener while
  // any such stream is alive (on-exit-leak-free). Holding one across the check keeps that listener
  // steady, so `no-global-state` measures this plugin and not whether an earlier logger was GC'd.
  let keepAlive: Logger | undefined;
  let outDir: string;
  before(async () => {
    keepAlive = silentLogger();
    outDir = await mkdtemp(path.join(os.tmpdir(), 'gantry-mail-'));
  });
  after(async () => {
    keepAlive = undefined;
    await rm(outDir, { recursive: true, force: true });
  });

  it('passes every check of the conformance kit (file transport)', async () => {
    expect(keepAlive).not.to.equal(undefined);
    const results = await checkConformance({
      plugin,
      config: {
        mailer: { transport: 'file', outDir, from: 'noreply@example.com', baseUrl: 'https://app.example.com' },
      },
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
