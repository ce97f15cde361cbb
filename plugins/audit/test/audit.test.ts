import { plugin as httpPlugin } from '@gantry/http';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { checkConformance, createTestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { AuditToken, cleanString, isSecretKey, plugin, sanitizeDetails } from '../src/index.js';
import { auditSuite, rejection } from './support/suite.js';

auditSuite({ driver: 'sqlite', fresh: async () => ({ dbName: ':memory:' }) });

describe('audit: sanitizer', () => {
  const options = { maxStringLength: 1000, maxDepth: 3 };

  it('names secret keys by whole words, case and separators aside', () => {
    const secret = [
      'password',
      'pass',
      'PassPhrase',
      'newPassword',
      'accessToken',
      'refresh_token',
      'id_token',
      'client_secret',
      'X-Api-Secret',
      'sessionId',
      'session',
      'session_ids',
      'Cookie',
      'set-cookie',
      'authorization',
      'otp',
      'totpCode',
      'code',
      'resetCode',
      'recovery_code',
      'apiKey',
      'privateKey',
      'key',
      'credentials',
      'JWT',
      'SID',
    ];
    for (const key of secret) expect(isSecretKey(key), key).to.equal(true);
    const kept = [
      'username',
      'email',
      'role',
      'ip',
      'statusCode',
      'countryCode',
      'errorCode',
      'passive',
      'compass',
      'sessionCount',
      'sessionKind',
      'keyId',
      'kid',
      'reason',
      'via',
    ];
    for (const key of kept) expect(isSecretKey(key), key).to.equal(false);
  });

  it('cuts nesting at maxDepth and survives reference cycles', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    expect(sanitizeDetails(cyclic, options)).to.deep.equal({
      name: 'a',
      self: { name: 'a', self: { name: 'a', self: '[truncated]' } },
    });
  });

  it('keeps JSON values, turns dates into ISO strings and drops functions and undefined', () => {
    const d = new Date('2026-01-01T00:00:00Z');
    expect(
      sanitizeDetails({ n: 1, b: true, z: null, d, f: () => 1, u: undefined, big: 10n, inf: Infinity }, options),
    ).to.deep.equal({
      n: 1,
      b: true,
      z: null,
      d: '2026-01-01T00:00:00.000Z',
      big: '10',
      inf: 'Infinity',
    });
    expect(sanitizeDetails({ password: 'x' }, options)).to.equal(undefined);
  });

  it('escapes every control character, including Unicode line separators', () => {
    expect(cleanString('a\r\nb\tc\u0000d\u2028e\u0085', 100)).to.equal('a\\r\\nb\\tc\\u0000d\\u2028e\\u0085');
  });
});

describe('audit: wiring', () => {
  it('reports a record() after the database stopped as the wiring bug it is (GANTRY_DATABASE_NOT_STARTED), not as an outage', async () => {
    const tk = await createTestKernel({
      plugins: [databasePlugin, plugin],
      config: { database: { dbName: ':memory:' } },
    });
    const audit = tk.get(AuditToken);
    await tk.stop();
    const err = await rejection(audit.record({ action: 'auth.login', outcome: 'success' }));
    expect(err.code).to.equal('GANTRY_DATABASE_NOT_STARTED');
  });
});

describe('audit: conformance', () => {
  it('passes every conformance check', async () => {
    const results = await checkConformance({
      plugin,
      with: [httpPlugin, databasePlugin],
      config: { database: { dbName: ':memory:' }, audit: { route: false } },
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
