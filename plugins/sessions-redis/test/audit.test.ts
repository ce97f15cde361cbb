import { plugin as httpPlugin } from '@gantry/http';
import { AuditToken, plugin as auditPlugin } from '@gantry/plugin-audit';
import { plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';
import { ADMIN_PREFIX, Browser, permissionStandIn, sessionApp } from './support/harness.js';

describe('sessions-redis: audit trail (with the audit plugin)', () => {
  let tk: TestKernel;
  beforeEach(async () => {
    tk = await createTestKernel({
      plugins: [httpPlugin, databasePlugin, auditPlugin, authJwtPlugin, plugin, permissionStandIn, sessionApp([])],
      config: {
        database: { dbName: ':memory:' },
        'auth-jwt': { issuer: 'https://sessions.test', audience: 'sessions-test', store: 'memory' },
      },
    });
  });
  afterEach(() => tk.stop());

  it('records auth.session.revoke and admin.session.revoke, naming what was revoked', async () => {
    const alice = new Browser();
    await alice.login(tk, 'alice');
    const other = await new Browser().login(tk, 'alice');
    expect(
      (
        await alice.send(tk, {
          method: 'DELETE',
          url: `/api/v1/auth/sessions/${other.id}`,
          headers: { 'x-csrf-token': alice.csrfToken! },
        })
      ).statusCode,
    ).to.equal(204);
    const admin = new Browser();
    await admin.login(tk, `${ADMIN_PREFIX}1`);
    expect(
      (
        await admin.send(tk, {
          method: 'DELETE',
          url: '/api/v1/users/alice/sessions',
          headers: { 'x-csrf-token': admin.csrfToken! },
        })
      ).statusCode,
    ).to.equal(200);
    const audit = tk.get(AuditToken);
    const own = (await audit.query({ action: 'auth.session.revoke' })).items;
    expect(own).to.have.length(1);
    expect(own[0]).to.deep.include({
      outcome: 'success',
      actor: { id: 'alice', kind: 'user' },
      object: { type: 'session', id: other.id },
    });
    const byAdmin = (await audit.query({ action: 'admin.session.revoke' })).items;
    expect(byAdmin).to.have.length(1);
    expect(byAdmin[0]).to.deep.include({
      actor: { id: `${ADMIN_PREFIX}1`, kind: 'user' },
      object: { type: 'user', id: 'alice' },
      details: { revoked: 1 },
    });
  });

  it('records each CSRF refusal as auth.csrf.refused (denied) with its reason', async () => {
    const alice = new Browser();
    await alice.login(tk, 'alice');
    expect(
      (await alice.send(tk, { method: 'POST', url: '/api/v1/notes', headers: { 'sec-fetch-site': 'cross-site' } }))
        .statusCode,
    ).to.equal(403);
    expect(
      (await alice.send(tk, { method: 'POST', url: '/api/v1/notes', headers: { origin: 'https://evil.example' } }))
        .statusCode,
    ).to.equal(403);
    expect((await alice.send(tk, { method: 'POST', url: '/api/v1/notes' })).statusCode).to.equal(403);
    const items = (await tk.get(AuditToken).query({ action: 'auth.csrf.refused' })).items;
    expect(items.map((i) => (i.details as { reason: string }).reason).sort()).to.deep.equal([
      'cross-site',
      'origin',
      'token',
    ]);
    for (const i of items) expect(i.outcome).to.equal('denied');
    // Only the token refusal knows whose session it was (the others are refused before the session is read).
    expect(items.find((i) => (i.details as { reason: string }).reason === 'token')?.actor).to.deep.equal({
      id: 'alice',
      kind: 'user',
    });
    expect(items.find((i) => (i.details as { reason: string }).reason === 'token')?.details).to.deep.include({
      method: 'POST',
      route: '/api/v1/notes',
    });
  });
});
