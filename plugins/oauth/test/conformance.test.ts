import { plugin as httpPlugin } from '@gantry/http';
import { plugin as auditPlugin } from '@gantry/plugin-audit';
import { plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as mailerPlugin } from '@gantry/plugin-mailer';
import { plugin as rbacPlugin } from '@gantry/plugin-rbac';
import { plugin as usersPlugin } from '@gantry/plugin-users';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';

describe('oauth: conformance', () => {
  it('passes every conformance check with Google configured (no I/O at boot)', async () => {
    const mailDir = mkdtempSync(path.join(os.tmpdir(), 'gantry-oauth-conformance-'));
    try {
      const results = await checkConformance({
        plugin,
        with: [httpPlugin, databasePlugin, auditPlugin, rbacPlugin, authJwtPlugin, mailerPlugin, usersPlugin],
        config: {
          database: { dbName: ':memory:' },
          'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test', store: 'memory' },
          mailer: {
            transport: 'file',
            from: 'noreply@gantry.test',
            baseUrl: 'https://app.gantry.test',
            outDir: mailDir,
          },
          oauth: {
            callbackBaseUrl: 'https://app.gantry.test',
            providers: { google: { clientId: 'conformance', clientSecret: 'conformance-secret' } },
          },
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
    } finally {
      rmSync(mailDir, { recursive: true, force: true });
    }
  });
});
