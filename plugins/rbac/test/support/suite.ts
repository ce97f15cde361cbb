// The behaviour the rbac plugin must have on every engine, run against SQLite (rbac.test.ts) and the
// real PostgreSQL (rbac.pg.test.ts). Callers authenticate with real auth-jwt bearer tokens.
import { setTimeout as sleep } from 'node:timers/promises';
import { definePlugin, GantryError, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { AuditToken, plugin as auditPlugin } from '@gantry/plugin-audit';
import { AuthJwtToken, plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { createTestKernel, type InjectResponse, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { ADMIN_ROLE, authenticated, plugin as rbacPlugin, RbacToken, requires, USER_ROLE } from '../../src/index.js';

/** A database engine the suite runs against. */
export interface SuiteTarget {
  readonly driver: 'sqlite' | 'postgresql';
  /** Options of the `database` plugin for a new, empty database; two kernels given the same options share it. */
  fresh(): Promise<Record<string, unknown>>;
}

/** Routes of every guard shape, owned by a plugin of the test. */
const routes = definePlugin({
  name: 'probe',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.get('/notes', { summary: 'needs notes:read', meta: { ...requires('notes:read') } }, () => ({
      ok: 'notes:read',
    }));
    ctx.http.post(
      '/notes/publish',
      { summary: 'needs two permissions', meta: { ...requires('notes:read', 'notes:publish') } },
      () => ({ ok: 'published' }),
    );
    ctx.http.get('/me', { summary: 'any signed-in caller', meta: { ...authenticated() } }, (req) => ({
      id: req.context.principal?.id,
    }));
    ctx.http.get('/open', { summary: 'public', meta: { public: true } }, () => ({ ok: 'open' }));
    ctx.health.check(() => ({ status: 'up' }));
  },
});

/** A plugin whose one route needs a signed-in caller but declares no permission, or a malformed one. */
function badRoute(meta: Record<string, unknown>): Plugin {
  return definePlugin({
    name: 'careless',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http'],
    register(ctx) {
      ctx.http.get('/careless', { summary: 'badly declared', meta }, () => ({}));
      ctx.health.check(() => ({ status: 'up' }));
    },
  });
}

const AUTH = { issuer: 'https://gantry.test', audience: 'gantry-test' };
const READER = { description: 'Reads notes', permissions: ['notes:read'] };

interface App {
  readonly tk: TestKernel;
  /** GET/POST as `subject` (a fresh access token each call), or anonymously without one. */
  call(method: 'GET' | 'POST', url: string, subject?: string): Promise<InjectResponse>;
}

/** The rbac error a boot failed with (the kernel wraps a failing register or hook in its own error). */
async function bootRefusal(promise: Promise<unknown>): Promise<GantryError> {
  let err = await rejection(promise);
  while (!err.code.startsWith('GANTRY_RBAC_') && GantryError.is(err.cause)) err = err.cause;
  return err;
}

/** The error `promise` rejected with (fails when it resolved). */
async function rejection(promise: Promise<unknown>): Promise<GantryError> {
  try {
    await promise;
  } catch (err) {
    expect(GantryError.is(err), `expected a coded error, got ${String(err)}`).to.equal(true);
    return err as GantryError;
  }
  expect.fail('expected a rejection');
}

const codeOf = (res: InjectResponse): string => (JSON.parse(res.body) as { code: string }).code;

export function rbacSuite(target: SuiteTarget): void {
  describe(`rbac on ${target.driver}`, function () {
    this.timeout(30_000);
    const started: TestKernel[] = [];
    afterEach(async () => {
      while (started.length) await started.pop()!.stop();
    });

    async function boot(
      database: Record<string, unknown>,
      rbac: Record<string, unknown> = {},
      extra: Plugin[] = [routes],
    ): Promise<App> {
      const tk = await createTestKernel({
        plugins: [httpPlugin, databasePlugin, auditPlugin, authJwtPlugin, rbacPlugin, ...extra],
        config: {
          database: { ...database, migrateOnStart: true },
          'auth-jwt': AUTH,
          audit: { route: false },
          rbac: { roles: { reader: READER }, ...rbac },
        },
      });
      started.push(tk);
      return {
        tk,
        async call(method, url, subject) {
          const headers: Record<string, string> = {};
          if (subject) headers.authorization = `Bearer ${(await tk.get(AuthJwtToken).issuePair(subject)).accessToken}`;
          return tk.inject({ method, url, headers });
        },
      };
    }

    describe('declarations, checked at boot', () => {
      it('refuses to boot when a protected route declares no permission (GANTRY_RBAC_UNDECLARED), naming the route', async () => {
        const err = await bootRefusal(boot(await target.fresh(), {}, [badRoute({ auth: true })]));
        expect(err.code).to.equal('GANTRY_RBAC_UNDECLARED');
        expect(err.message).to.include('GET /api/v1/careless').and.include('plugin "careless"');
      });

      for (const permission of ['Notes:Read', 'notes', 'notes:read:all', '', [], ['notes:read', 42]]) {
        it(`refuses to boot on the malformed declaration ${JSON.stringify(permission)} (GANTRY_RBAC_INVALID_PERMISSION)`, async () => {
          const err = await bootRefusal(boot(await target.fresh(), {}, [badRoute({ auth: true, permission })]));
          expect(err.code).to.equal('GANTRY_RBAC_INVALID_PERMISSION');
        });
      }

      it('seeds admin with every declared permission (routes and config), user with none, and config roles with theirs', async () => {
        const app = await boot(await target.fresh(), { permissions: ['reports:export'] });
        const rbac = app.tk.get(RbacToken);
        expect(rbac.knownPermissions()).to.include.members([
          'notes:read',
          'notes:publish',
          'roles:read',
          'reports:export',
        ]);
        const roles = await rbac.listRoles();
        expect(roles.map((r) => r.name)).to.deep.equal([ADMIN_ROLE, 'reader', USER_ROLE]);
        expect(roles.find((r) => r.name === ADMIN_ROLE)!.permissions).to.deep.equal(rbac.knownPermissions());
        expect(roles.find((r) => r.name === 'reader')).to.deep.include({ builtin: false, permissions: ['notes:read'] });
        expect(roles.find((r) => r.name === USER_ROLE)).to.deep.include({ builtin: true, permissions: [] });
      });

      it('seeding again is additive: a role gains the permissions added to its config, keeps what it had, and grants survive', async () => {
        const database = await target.fresh();
        const first = await boot(database);
        await first.tk.get(RbacToken).grant('u-1', 'reader');
        await first.tk.stop();
        started.splice(started.indexOf(first.tk), 1);
        const second = await boot(database, {
          roles: { reader: { description: 'Reads and publishes', permissions: ['notes:publish'] } },
        });
        const reader = (await second.tk.get(RbacToken).listRoles()).find((r) => r.name === 'reader')!;
        expect(reader.permissions).to.deep.equal(['notes:publish', 'notes:read']);
        expect(await second.tk.get(RbacToken).rolesOf('u-1')).to.deep.equal(['reader']);
      });
    });

    describe('per request', () => {
      it('answers 403 GANTRY_RBAC_FORBIDDEN naming the permission, and records authz.denied in the audit trail', async () => {
        const app = await boot(await target.fresh());
        await app.tk.get(RbacToken).grant('plain', USER_ROLE);
        const res = await app.call('GET', '/api/v1/notes', 'plain');
        expect(res.statusCode).to.equal(403);
        expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
        const problem = JSON.parse(res.body) as { code: string; permission: string };
        expect(problem.code).to.equal('GANTRY_RBAC_FORBIDDEN');
        expect(problem.permission).to.equal('notes:read');
        const denied = (await app.tk.get(AuditToken).query({ action: 'authz.denied' })).items;
        expect(denied).to.have.length(1);
        expect(denied[0]).to.deep.include({ actor: { id: 'plain', kind: 'user' }, outcome: 'denied' });
        expect(denied[0]!.details).to.deep.equal({ permission: 'notes:read' });
      });

      it('lets a role holding the permission in, and admin into everything', async () => {
        const app = await boot(await target.fresh());
        await app.tk.get(RbacToken).grant('reading', 'reader');
        await app.tk.get(RbacToken).grant('boss', ADMIN_ROLE);
        expect((await app.call('GET', '/api/v1/notes', 'reading')).statusCode).to.equal(200);
        expect((await app.call('GET', '/api/v1/notes', 'boss')).statusCode).to.equal(200);
        expect((await app.call('POST', '/api/v1/notes/publish', 'boss')).statusCode).to.equal(200);
        expect((await app.call('GET', '/api/v1/roles', 'boss')).statusCode).to.equal(200);
        expect(codeOf(await app.call('GET', '/api/v1/roles', 'reading'))).to.equal('GANTRY_RBAC_FORBIDDEN');
      });

      it('needs every permission of a list: the first missing one is named', async () => {
        const app = await boot(await target.fresh());
        await app.tk.get(RbacToken).grant('reading', 'reader');
        const res = await app.call('POST', '/api/v1/notes/publish', 'reading');
        expect(res.statusCode).to.equal(403);
        expect((JSON.parse(res.body) as { permission: string }).permission).to.equal('notes:publish');
      });

      it('"authenticated" routes take any signed-in caller, even one without a role; no caller → 401 before rbac', async () => {
        const app = await boot(await target.fresh());
        const me = await app.call('GET', '/api/v1/me', 'nobody-special');
        expect(me.statusCode).to.equal(200);
        expect(JSON.parse(me.body)).to.deep.equal({ id: 'nobody-special' });
        const anonymous = await app.call('GET', '/api/v1/notes');
        expect(anonymous.statusCode).to.equal(401);
        expect(codeOf(anonymous)).to.equal('GANTRY_HTTP_UNAUTHENTICATED');
        expect((await app.call('GET', '/api/v1/open')).statusCode).to.equal(200);
        expect((await app.tk.get(AuditToken).query({ action: 'authz.denied' })).items).to.have.length(0);
      });
    });

    describe('custom roles (POST/PATCH/DELETE /roles)', () => {
      type Send = (method: 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) => Promise<InjectResponse>;
      async function asAdmin(app: App): Promise<Send> {
        await app.tk.get(RbacToken).grant('boss', ADMIN_ROLE);
        const token = (await app.tk.get(AuthJwtToken).issuePair('boss')).accessToken;
        return (method, url, body) =>
          app.tk.inject({
            method,
            url,
            headers: {
              authorization: `Bearer ${token}`,
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
          });
      }

      it('creates a role that grants at once, changes its permissions (applied at once), and audits each change', async () => {
        const app = await boot(await target.fresh());
        const send = await asAdmin(app);
        const created = await send('POST', '/api/v1/roles', {
          name: 'editor',
          description: 'Edits notes',
          permissions: ['notes:publish', 'notes:read', 'notes:read'],
        });
        expect(created.statusCode, created.body).to.equal(201);
        expect(JSON.parse(created.body)).to.deep.equal({
          name: 'editor',
          description: 'Edits notes',
          builtin: false,
          permissions: ['notes:publish', 'notes:read'],
        });
        await app.tk.get(RbacToken).grant('ed', 'editor');
        expect((await app.call('POST', '/api/v1/notes/publish', 'ed')).statusCode).to.equal(200);
        const changed = await send('PATCH', '/api/v1/roles/editor', { permissions: ['notes:read'] });
        expect(JSON.parse(changed.body)).to.deep.include({ description: 'Edits notes', permissions: ['notes:read'] });
        expect((await app.call('POST', '/api/v1/notes/publish', 'ed')).statusCode).to.equal(403);
        expect((await app.call('GET', '/api/v1/notes', 'ed')).statusCode).to.equal(200);
        expect((await app.tk.get(RbacToken).listRoles()).map((r) => r.name)).to.deep.equal([
          ADMIN_ROLE,
          'editor',
          'reader',
          USER_ROLE,
        ]);
        const trail = (await app.tk.get(AuditToken).query({ limit: 50 })).items
          .filter((e) => e.action.startsWith('admin.role.'))
          .reverse();
        expect(trail.map((e) => [e.action, e.object?.id, e.details])).to.deep.equal([
          ['admin.role.create', 'editor', { permissions: ['notes:publish', 'notes:read'] }],
          ['admin.role.update', 'editor', { permissions: ['notes:read'] }],
        ]);
        expect(trail[0]!.actor).to.deep.include({ id: 'boss' });
      });

      // PostgreSQL only: two SQLite connections in one thread cannot race (better-sqlite3 blocks the
      // thread while it waits for the other's lock, so the other never commits: a 5 s stall, then BUSY).
      if (target.driver === 'postgresql')
        it('two instances creating the same role at once: one creates it, the other answers 409 (never 503)', async () => {
          const database = await target.fresh();
          const a = await boot(database);
          const b = await boot(database);
          for (let round = 0; round < 5; round++) {
            const name = `racer-${round}`;
            const outcomes = await Promise.allSettled(
              [a, b].map((app) =>
                app.tk.get(RbacToken).createRole({ name, description: 'Races', permissions: ['notes:read'] }),
              ),
            );
            expect(
              outcomes.filter((o) => o.status === 'fulfilled'),
              name,
            ).to.have.length(1);
            const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
            expect((refused.reason as GantryError).code, name).to.equal('GANTRY_RBAC_ROLE_EXISTS');
          }
        });

      it('refuses a taken name (409), an unknown permission (400), a bad name (400), and non-admins (403)', async () => {
        const app = await boot(await target.fresh());
        const send = await asAdmin(app);
        const code = async (res: Promise<InjectResponse>): Promise<string> => codeOf(await res);
        expect(
          await code(send('POST', '/api/v1/roles', { name: 'reader', description: 'again', permissions: [] })),
        ).to.equal('GANTRY_RBAC_ROLE_EXISTS');
        expect(
          await code(send('POST', '/api/v1/roles', { name: 'admin', description: 'again', permissions: [] })),
        ).to.equal('GANTRY_RBAC_ROLE_EXISTS');
        const unknown = await send('POST', '/api/v1/roles', {
          name: 'wizard',
          description: 'Magic',
          permissions: ['spells:cast'],
        });
        expect(unknown.statusCode).to.equal(400);
        expect(JSON.parse(unknown.body)).to.deep.include({
          code: 'GANTRY_RBAC_UNKNOWN_PERMISSION',
          unknown: ['spells:cast'],
        });
        for (const body of [
          { name: 'Bad Name', description: 'x', permissions: [] },
          { name: 'ok', description: ' ', permissions: [] },
          { name: 'ok', description: 'x', permissions: ['notes'] },
          { name: 'ok', description: 'x', permissions: [], builtin: true },
        ]) {
          expect(await code(send('POST', '/api/v1/roles', body)), JSON.stringify(body)).to.equal(
            'GANTRY_HTTP_VALIDATION',
          );
        }
        await app.tk.get(RbacToken).grant('reading', 'reader');
        const token = (await app.tk.get(AuthJwtToken).issuePair('reading')).accessToken;
        const denied = await app.tk.inject({
          method: 'POST',
          url: '/api/v1/roles',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          payload: JSON.stringify({ name: 'sneaky', description: 'x', permissions: ['roles:write'] }),
        });
        expect(denied.statusCode).to.equal(403);
        expect((await app.tk.get(RbacToken).listRoles()).map((r) => r.name))
          .to.not.include('sneaky')
          .and.not.include('wizard');
      });

      it('no escalation: a role manager creates, changes and deletes only roles within what it holds (403 GANTRY_RBAC_ESCALATION)', async () => {
        const app = await boot(await target.fresh());
        const rbac = app.tk.get(RbacToken);
        await rbac.createRole({
          name: 'role-manager',
          description: 'Manages reader roles',
          permissions: ['roles:read', 'roles:write', 'notes:read'],
        });
        await rbac.createRole({ name: 'publisher', description: 'Publishes', permissions: ['notes:publish'] });
        await rbac.grant('mgr', 'role-manager');
        const token = (await app.tk.get(AuthJwtToken).issuePair('mgr')).accessToken;
        const send = (method: 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) =>
          app.tk.inject({
            method,
            url,
            headers: {
              authorization: `Bearer ${token}`,
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
          });
        const beyond = await send('POST', '/api/v1/roles', {
          name: 'sneaky',
          description: 'More than mine',
          permissions: ['notes:read', 'notes:publish'],
        });
        expect(beyond.statusCode).to.equal(403);
        expect(JSON.parse(beyond.body)).to.deep.include({ code: 'GANTRY_RBAC_ESCALATION', lacking: ['notes:publish'] });
        expect(
          (
            await send('POST', '/api/v1/roles', {
              name: 'readers',
              description: 'Read only',
              permissions: ['notes:read'],
            })
          ).statusCode,
        ).to.equal(201);
        expect(codeOf(await send('PATCH', '/api/v1/roles/readers', { permissions: ['notes:publish'] }))).to.equal(
          'GANTRY_RBAC_ESCALATION',
        );
        expect(
          codeOf(
            await send('PATCH', '/api/v1/roles/publisher', { description: 'Renamed by someone who cannot publish' }),
          ),
        ).to.equal('GANTRY_RBAC_ESCALATION');
        expect(codeOf(await send('DELETE', '/api/v1/roles/publisher'))).to.equal('GANTRY_RBAC_ESCALATION');
        expect((await send('DELETE', '/api/v1/roles/readers')).statusCode).to.equal(204);
        expect((await rbac.listRoles()).map((r) => r.name))
          .to.include('publisher')
          .and.not.include('sneaky');
      });

      it("leaves admin, user and the config's roles alone (409), answers 404 for no role, and deletes a role only once nobody holds it", async () => {
        const app = await boot(await target.fresh());
        const send = await asAdmin(app);
        for (const role of [ADMIN_ROLE, USER_ROLE, 'reader']) {
          expect(codeOf(await send('PATCH', `/api/v1/roles/${role}`, { permissions: [] })), role).to.equal(
            'GANTRY_RBAC_ROLE_PROTECTED',
          );
          expect(codeOf(await send('DELETE', `/api/v1/roles/${role}`)), role).to.equal('GANTRY_RBAC_ROLE_PROTECTED');
        }
        expect((await send('PATCH', '/api/v1/roles/ghost', { description: 'x' })).statusCode).to.equal(404);
        expect((await send('DELETE', '/api/v1/roles/ghost')).statusCode).to.equal(404);
        expect(
          (await send('POST', '/api/v1/roles', { name: 'temp', description: 'Temporary', permissions: ['notes:read'] }))
            .statusCode,
        ).to.equal(201);
        await app.tk.get(RbacToken).grant('holder', 'temp');
        const inUse = await send('DELETE', '/api/v1/roles/temp');
        expect(inUse.statusCode).to.equal(409);
        expect(JSON.parse(inUse.body)).to.deep.include({ code: 'GANTRY_RBAC_ROLE_IN_USE', holders: 1 });
        await app.tk.get(RbacToken).setRoles('holder', [USER_ROLE]);
        expect((await send('DELETE', '/api/v1/roles/temp')).statusCode).to.equal(204);
        expect((await send('DELETE', '/api/v1/roles/temp')).statusCode).to.equal(404);
        expect((await rejection(app.tk.get(RbacToken).setRoles('holder', ['temp']))).code).to.equal(
          'GANTRY_RBAC_UNKNOWN_ROLE',
        );
      });
    });

    describe('role changes', () => {
      it('setRoles refuses an unknown role (400) and taking admin from the last administrator (409); with two, one can go', async () => {
        const app = await boot(await target.fresh());
        const rbac = app.tk.get(RbacToken);
        const unknown = await rejection(rbac.setRoles('u-1', ['reader', 'wizard']));
        expect(unknown.code).to.equal('GANTRY_RBAC_UNKNOWN_ROLE');
        expect(unknown.status).to.equal(400);
        await rbac.setRoles('first-admin', [ADMIN_ROLE]);
        const last = await rejection(rbac.setRoles('first-admin', [USER_ROLE]));
        expect(last.code).to.equal('GANTRY_RBAC_LAST_ADMIN');
        expect(last.status).to.equal(409);
        expect(await rbac.rolesOf('first-admin')).to.deep.equal([ADMIN_ROLE]);
        await rbac.setRoles('second-admin', [ADMIN_ROLE, USER_ROLE, USER_ROLE]);
        expect(await rbac.rolesOf('second-admin')).to.deep.equal([ADMIN_ROLE, USER_ROLE]);
        expect(await rbac.setRoles('first-admin', [USER_ROLE])).to.deep.equal([USER_ROLE]);
        expect(await rbac.can('first-admin', 'notes:read')).to.equal(false);
      });

      if (target.driver === 'postgresql')
        it('two administrators demoted at once on two instances: one stays admin (never none)', async () => {
          const database = await target.fresh();
          const a = await boot(database);
          const b = await boot(database);
          for (let round = 0; round < 5; round++) {
            const [x, y] = [`admin-x-${round}`, `admin-y-${round}`];
            await a.tk.get(RbacToken).setRoles(x, [ADMIN_ROLE]);
            await a.tk.get(RbacToken).setRoles(y, [ADMIN_ROLE]);
            // Keep only these two as admins of the round.
            for (let r = 0; r < round; r++)
              for (const other of [`admin-x-${r}`, `admin-y-${r}`]) await a.tk.get(RbacToken).forget(other);
            const outcomes = await Promise.allSettled([
              a.tk.get(RbacToken).setRoles(x, [USER_ROLE]),
              b.tk.get(RbacToken).setRoles(y, [USER_ROLE]),
            ]);
            expect(outcomes.map((o) => o.status).sort(), `round ${round}`).to.deep.equal(['fulfilled', 'rejected']);
            expect(
              ((outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult).reason as GantryError).code,
            ).to.equal('GANTRY_RBAC_LAST_ADMIN');
            const admins = [x, y].filter((id) => outcomes[[x, y].indexOf(id)]!.status === 'rejected');
            for (const id of admins) expect(await b.tk.get(RbacToken).can(id, 'roles:write')).to.equal(true);
          }
        });

      it('a change through this instance applies at once, cache or not: grant, revoke, forget', async () => {
        const app = await boot(await target.fresh(), { roleCacheTtlMs: 60_000 });
        const rbac = app.tk.get(RbacToken);
        expect((await app.call('GET', '/api/v1/notes', 'mover')).statusCode).to.equal(403);
        await rbac.grant('mover', 'reader');
        expect((await app.call('GET', '/api/v1/notes', 'mover')).statusCode).to.equal(200);
        await rbac.setRoles('mover', [USER_ROLE]);
        expect((await app.call('GET', '/api/v1/notes', 'mover')).statusCode).to.equal(403);
        await rbac.grant('mover', 'reader');
        expect((await app.call('GET', '/api/v1/notes', 'mover')).statusCode).to.equal(200);
        await rbac.forget('mover');
        expect((await app.call('GET', '/api/v1/notes', 'mover')).statusCode).to.equal(403);
        expect(await rbac.rolesOf('mover')).to.deep.equal([]);
      });

      it('a change through another instance applies within roleCacheTtlMs, and at once with 0', async () => {
        const database = await target.fresh();
        const a = await boot(database);
        const cached = await boot(database, { roleCacheTtlMs: 300 });
        const uncached = await boot(database, { roleCacheTtlMs: 0 });
        await a.tk.get(RbacToken).grant('remote', 'reader');
        expect((await cached.call('GET', '/api/v1/notes', 'remote')).statusCode).to.equal(200);
        expect((await uncached.call('GET', '/api/v1/notes', 'remote')).statusCode).to.equal(200);
        await a.tk.get(RbacToken).setRoles('remote', [USER_ROLE]);
        expect((await uncached.call('GET', '/api/v1/notes', 'remote')).statusCode).to.equal(403);
        await sleep(350);
        expect((await cached.call('GET', '/api/v1/notes', 'remote')).statusCode).to.equal(403);
      });
    });
  });
}
