import { CoreErrors, type GantryError } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { checkConformance, createTestKernel, memoryLogger, type LogLine } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';
import { memoryTarget, permissionStandIn } from './support/harness.js';
import { sessionsSuite } from './support/suite.js';

sessionsSuite(memoryTarget);

/** The error a boot failed with (fails when it booted). */
async function bootError(options: { config?: Record<string, unknown>; profile?: string }): Promise<GantryError> {
  let caught: unknown;
  try {
    const tk = await createTestKernel({
      plugins: [httpPlugin, plugin, permissionStandIn],
      config: { 'sessions-redis': options.config ?? {} },
      profile: options.profile,
    });
    await tk.stop();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'the kernel booted').to.have.property('code');
  return caught as GantryError;
}

describe('sessions-redis: configuration', () => {
  it('outside the embedded profile, refuses to boot without csrfSecret', async () => {
    const err = await bootError({ profile: 'compose', config: { store: 'memory' } });
    expect(CoreErrors.BOOT_INVALID.is(err)).to.equal(true);
    expect((err.details as { codes: string[] }).codes).to.deep.equal(['GANTRY_SESSIONS_REDIS_CSRF_SECRET_REQUIRED']);
  });

  it('refuses the redis store without the redis plugin, which is the default outside the embedded profile', async () => {
    for (const options of [
      { config: { store: 'redis' } },
      { profile: 'compose', config: { csrfSecret: 's'.repeat(32) } },
    ]) {
      const err = await bootError(options);
      expect((err.details as { codes: string[] }).codes, JSON.stringify(options)).to.deep.equal([
        'GANTRY_SESSIONS_REDIS_REDIS_REQUIRED',
      ]);
      expect(err.message).to.include('"redis" plugin is not enabled');
    }
  });

  it('refuses invalid options before anything starts', async () => {
    for (const config of [
      { cookieName: 'gantry.sid' },
      { csrfCookieName: '__Secure-csrf' },
      { cookieName: '__Host-same', csrfCookieName: '__Host-same' },
      { idleTimeoutSeconds: 600, absoluteTimeoutSeconds: 300 },
      { allowedOrigins: ['https://app.example.com/path'] },
      { allowedOrigins: ['app.example.com'] },
      { csrfSecret: 'too-short' },
      { sameSite: 'none' },
    ]) {
      const err = await bootError({ config });
      expect(err.code, JSON.stringify(config)).to.equal('GANTRY_CORE_BOOT_INVALID');
    }
  });

  it('in the embedded profile, generates a CSRF secret and says so', async () => {
    const lines: LogLine[] = [];
    const tk = await createTestKernel({
      plugins: [httpPlugin, plugin, permissionStandIn],
      logger: memoryLogger(lines),
    });
    await tk.stop();
    expect(lines.some((l) => l.level === 'warn' && l.msg.includes('generated a CSRF secret'))).to.equal(true);
  });
});

describe('sessions-redis: conformance', () => {
  it('passes every conformance check with the memory store (a permission checker enabled, as its routes need one)', async () => {
    const results = await checkConformance({ plugin, with: [httpPlugin, permissionStandIn] });
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
