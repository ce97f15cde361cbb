// The behaviour the audit plugin must have on every engine, run against SQLite (audit.test.ts) and
// the real PostgreSQL (audit.pg.test.ts).
import { GantryError, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { DatabaseToken, plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as metricsPlugin } from '@gantry/plugin-metrics';
import { createTestKernel, memoryLogger, type LogLine, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { AuditToken, plugin as auditPlugin, type AuditEntry } from '../../src/index.js';
import { probePlugin } from './probe-plugin.js';

/** A database engine the suite runs against. */
export interface SuiteTarget {
  readonly driver: 'sqlite' | 'postgresql';
  /** Options of the `database` plugin for a new, empty database. */
  fresh(): Promise<Record<string, unknown>>;
}

/** A started kernel with http + database + audit + the probe, and the log lines it wrote. */
export interface Booted {
  readonly tk: TestKernel;
  readonly lines: LogLine[];
  /** `audit_event`, schema-qualified when the database has a schema (raw SQL does not get the ORM's search_path). */
  readonly table: string;
}

/** Boots kernels for one test and stops them all afterwards. */
export class Kernels {
  private readonly started: TestKernel[] = [];

  async boot(
    database: Record<string, unknown>,
    audit: Record<string, unknown> = {},
    extra: readonly Plugin[] = [],
  ): Promise<Booted> {
    const lines: LogLine[] = [];
    const tk = await createTestKernel({
      plugins: [httpPlugin, ...extra, databasePlugin, auditPlugin, probePlugin()],
      config: { database, audit: { route: false, ...audit } },
      logger: memoryLogger(lines),
    });
    this.started.push(tk);
    const table = typeof database.schema === 'string' ? `"${database.schema}".audit_event` : 'audit_event';
    return { tk, lines, table };
  }

  async stopAll(): Promise<void> {
    while (this.started.length > 0) await this.started.pop()!.stop();
  }
}

/** The error `promise` rejected with (fails when it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<GantryError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(GantryError.is(caught), `expected a coded error, got ${String(caught)}`).to.equal(true);
  return caught as GantryError;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const FORGED = 'x\r\n2026-01-01 login success admin';

/** Every string in `value`, keys included. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => [k, ...strings(v)]);
  return [];
}

/** Registers the shared suite for `target`. */
export function auditSuite(target: SuiteTarget): void {
  describe(`audit plugin on ${target.driver}`, () => {
    const kernels = new Kernels();
    afterEach(() => kernels.stopAll());
    const boot = async (audit: Record<string, unknown> = {}): Promise<Booted> =>
      kernels.boot(await target.fresh(), audit);

    it('fills time (UTC), request id, IP and actor from the request, and stores exactly what it returns', async () => {
      const { tk } = await boot();
      const before = Date.now();
      const res = await tk.inject({
        method: 'POST',
        url: '/api/v1/probe/record',
        headers: { 'x-test-user': 'u-42:user' },
        payload: {
          action: 'auth.login',
          outcome: 'success',
          object: { type: 'user', id: 'u-42' },
          details: { method: 'password-form' },
        },
      });
      expect(res.statusCode, res.body).to.equal(201);
      const entry = res.json() as AuditEntry;
      expect(entry.requestId).to.be.a('string').and.equal(res.headers['x-request-id']);
      expect(entry.time).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(Date.parse(entry.time)).to.be.within(before, Date.now());
      expect(entry.ip).to.equal('127.0.0.1');
      expect(entry.actor).to.deep.equal({ id: 'u-42', kind: 'user' });
      expect(entry.object).to.deep.equal({ type: 'user', id: 'u-42' });
      expect(entry).to.include({ action: 'auth.login', outcome: 'success' });
      expect(entry.details).to.deep.equal({ method: 'password-form' });
      const page = await tk.get(AuditToken).query({ limit: 10 });
      expect(page.items).to.deep.equal([entry]);
      expect(page.nextCursor).to.equal(undefined);
    });

    it('takes an explicit actor over the principal, and leaves request id, actor and IP empty outside a request', async () => {
      const { tk } = await boot();
      const res = await tk.inject({
        method: 'POST',
        url: '/api/v1/probe/record',
        headers: { 'x-test-user': 'admin-1:user', 'x-request-id': 'req-abc-123' },
        payload: { action: 'admin.user.update', outcome: 'denied', actor: { id: 'svc-9', kind: 'service' } },
      });
      expect(res.statusCode, res.body).to.equal(201);
      expect(res.json()).to.deep.include({
        actor: { id: 'svc-9', kind: 'service' },
        requestId: 'req-abc-123',
        outcome: 'denied',
      });
      const job = await tk.get(AuditToken).record({ action: 'system.cleanup', outcome: 'success' });
      expect(job).to.deep.include({ actor: null, requestId: null, ip: null, object: null, details: null });
    });

    it('never stores or logs secrets: secret-looking keys are dropped at every depth', async () => {
      const { tk, lines, table } = await boot();
      const entry = await tk.get(AuditToken).record({
        action: 'auth.login',
        outcome: 'failure',
        details: {
          username: 'alice',
          password: 'hunter2-SECRET',
          newPassword: 'SECRET-2',
          headers: { Authorization: 'Bearer SECRET-3', cookie: 'sid=SECRET-4', 'user-agent': 'curl/8' },
          attempts: [
            { otp: 'SECRET-5', at: 1 },
            { refresh_token: 'SECRET-6', ok: false },
          ],
          deep: { a: { sessionId: 'SECRET-7', clientSecret: 'SECRET-8', resetCode: 'SECRET-9', kept: 'yes' } },
        },
      });
      const expected = {
        username: 'alice',
        headers: { 'user-agent': 'curl/8' },
        attempts: [{ at: 1 }, { ok: false }],
        deep: { a: { kept: 'yes' } },
      };
      expect(entry.details).to.deep.equal(expected);
      const [stored] = (await tk.get(AuditToken).query({ limit: 1 })).items;
      expect(stored!.details).to.deep.equal(expected);
      const rows = await tk.get(DatabaseToken).em().getConnection().execute(`select * from ${table}`);
      expect(JSON.stringify(rows)).to.not.match(/SECRET|hunter2/);
      const logged = lines.filter((l) => l.msg === 'audit');
      expect(logged).to.have.length(1);
      expect(JSON.stringify(logged[0]!.fields)).to.not.match(/SECRET|hunter2/);
    });

    it('escapes CR/LF and other control characters in every stored string, so no entry or log line can be forged', async () => {
      const { tk, lines } = await boot();
      const res = await tk.inject({
        method: 'POST',
        url: '/api/v1/probe/record',
        headers: { 'x-test-user': 'eve:user' },
        payload: {
          action: 'admin.user.update',
          outcome: 'success',
          object: { type: 'user\u001b[31m', id: FORGED },
          details: { name: FORGED, [FORGED]: 1, list: [FORGED] },
        },
      });
      expect(res.statusCode, res.body).to.equal(201);
      const [stored] = (await tk.get(AuditToken).query({ limit: 1 })).items;
      for (const entry of [
        res.json() as AuditEntry,
        stored!,
        (lines.find((l) => l.msg === 'audit')!.fields as { audit: AuditEntry }).audit,
      ]) {
        const all = strings(entry);
        expect(all.filter((s) => CONTROL.test(s))).to.deep.equal([]);
        expect(entry.object!.id).to.equal('x\\r\\n2026-01-01 login success admin');
        expect(entry.object!.type).to.equal('user\\u001b[31m');
        expect(entry.details).to.deep.equal({
          name: 'x\\r\\n2026-01-01 login success admin',
          'x\\r\\n2026-01-01 login success admin': 1,
          list: ['x\\r\\n2026-01-01 login success admin'],
        });
      }
      // One event, one entry: the forged "line" did not become a second one.
      expect((await tk.get(AuditToken).query({ limit: 10 })).items).to.have.length(1);
    });

    it('cuts long strings to maxStringLength', async () => {
      const { tk } = await boot({ maxStringLength: 20 });
      const entry = await tk.get(AuditToken).record({
        action: 'admin.note',
        outcome: 'success',
        object: { type: 'doc', id: 'd'.repeat(50) },
        details: { text: 'y'.repeat(5000) },
      });
      expect(entry.object!.id).to.equal(`${'d'.repeat(19)}…`);
      expect(entry.details!.text).to.equal(`${'y'.repeat(19)}…`);
    });

    it('refuses an invalid action or outcome with GANTRY_AUDIT_INVALID_EVENT and stores nothing', async () => {
      const { tk } = await boot();
      const audit = tk.get(AuditToken);
      for (const action of [
        'login',
        'Auth.Login',
        'auth.login\r\nadmin.x',
        'auth..login',
        'auth.login ',
        `auth.${'a'.repeat(100)}`,
        '',
      ]) {
        const err = await rejection(audit.record({ action, outcome: 'success' }));
        expect(err.code, action).to.equal('GANTRY_AUDIT_INVALID_EVENT');
        expect(err.message).to.not.match(/[\r\n]/);
      }
      const bad = await rejection(audit.record({ action: 'auth.login', outcome: 'ok' as 'success' }));
      expect(bad.code).to.equal('GANTRY_AUDIT_INVALID_EVENT');
      const res = await tk.inject({
        method: 'POST',
        url: '/api/v1/probe/record',
        payload: { action: 'Bad Action', outcome: 'success' },
      });
      expect(res.statusCode).to.equal(500);
      expect(res.json()).to.include({ code: 'GANTRY_AUDIT_INVALID_EVENT' });
      expect((await audit.query({ limit: 10 })).items).to.deep.equal([]);
    });

    it('filters by actor, action, outcome and time range, newest first', async () => {
      const { tk } = await boot();
      const audit = tk.get(AuditToken);
      const a = await audit.record({ action: 'auth.login', outcome: 'success', actor: { id: 'alice', kind: 'user' } });
      const b = await audit.record({ action: 'auth.login', outcome: 'failure', actor: { id: 'bob', kind: 'user' } });
      await new Promise((r) => setTimeout(r, 5));
      const c = await audit.record({
        action: 'admin.user.update',
        outcome: 'denied',
        actor: { id: 'alice', kind: 'user' },
      });
      const ids = async (q: Parameters<typeof audit.query>[0]): Promise<string[]> =>
        (await audit.query(q)).items.map((e) => e.id);
      expect(await ids({ limit: 10 })).to.deep.equal([c.id, b.id, a.id]);
      expect(await ids({ limit: 10, actorId: 'alice' })).to.deep.equal([c.id, a.id]);
      expect(await ids({ limit: 10, action: 'auth.login' })).to.deep.equal([b.id, a.id]);
      expect(await ids({ limit: 10, outcome: 'denied' })).to.deep.equal([c.id]);
      expect(await ids({ limit: 10, actorId: 'alice', action: 'auth.login', outcome: 'success' })).to.deep.equal([
        a.id,
      ]);
      expect(await ids({ limit: 10, from: c.time })).to.deep.equal([c.id]);
      expect(await ids({ limit: 10, to: new Date(c.time) })).to.deep.equal([b.id, a.id]);
      expect(await ids({ limit: 10, from: '2000-01-01T00:00:00Z', to: '2000-01-02T00:00:00Z' })).to.deep.equal([]);
    });

    it('pages with a stable cursor: no entry twice or missed, even when entries are written between pages', async () => {
      const { tk } = await boot();
      const audit = tk.get(AuditToken);
      const written: string[] = [];
      for (let i = 0; i < 7; i++)
        written.push((await audit.record({ action: 'auth.login', outcome: 'success', details: { i } })).id);
      const seen: string[] = [];
      let page = await audit.query({ limit: 3 });
      seen.push(...page.items.map((e) => e.id));
      expect(page.items).to.have.length(3);
      // Written after the first page: it is newer, so it never shows up on later pages.
      await audit.record({ action: 'auth.logout', outcome: 'success' });
      while (page.nextCursor) {
        page = await audit.query({ limit: 3, cursor: page.nextCursor });
        seen.push(...page.items.map((e) => e.id));
      }
      expect(seen).to.deep.equal([...written].reverse());
      expect((await audit.query({ limit: 10, action: 'auth.logout' })).items).to.have.length(1);
      for (const q of [
        { limit: 0 },
        { limit: 501 },
        { limit: 3, cursor: 'not-a-cursor' },
        { limit: 3, cursor: Buffer.from('x|y').toString('base64url') },
        { limit: 3, from: 'yesterday' },
      ]) {
        expect((await rejection(audit.query(q))).code, JSON.stringify(q)).to.equal('GANTRY_AUDIT_INVALID_QUERY');
      }
    });

    it('emits one structured log line per event, equal to the stored entry', async () => {
      const { tk, lines } = await boot();
      const res = await tk.inject({
        method: 'POST',
        url: '/api/v1/probe/record',
        headers: { 'x-test-user': 'u1:user' },
        payload: { action: 'auth.logout', outcome: 'success' },
      });
      const entry = res.json() as AuditEntry;
      const logged = lines.filter((l) => l.msg === 'audit');
      expect(logged).to.have.length(1);
      expect(logged[0]!.level).to.equal('info');
      expect(logged[0]!.fields).to.deep.equal({ audit: entry });
    });

    it('fails loudly when the write fails: 503 GANTRY_AUDIT_UNAVAILABLE, an error log line with the entry, readiness degraded', async () => {
      const { tk, lines, table } = await boot();
      const audit = tk.get(AuditToken);
      await audit.record({ action: 'auth.login', outcome: 'success' });
      expect((await tk.kernel.health.readiness()).checks['audit']).to.deep.include({ status: 'up' });
      await tk.get(DatabaseToken).em().getConnection().execute(`drop table ${table}`);
      const err = await rejection(
        audit.record({ action: 'auth.login', outcome: 'failure', actor: { id: 'mallory', kind: 'user' } }),
      );
      expect(err.code).to.equal('GANTRY_AUDIT_UNAVAILABLE');
      expect(err.status).to.equal(503);
      const failed = lines.filter((l) => l.level === 'error' && l.msg === 'audit write failed');
      expect(failed).to.have.length(1);
      expect((failed[0]!.fields as { audit: AuditEntry }).audit).to.deep.include({
        action: 'auth.login',
        outcome: 'failure',
        actor: { id: 'mallory', kind: 'user' },
      });
      const res = await tk.inject({
        method: 'POST',
        url: '/api/v1/probe/record',
        payload: { action: 'auth.login', outcome: 'success' },
      });
      expect(res.statusCode).to.equal(503);
      expect(res.json()).to.include({ code: 'GANTRY_AUDIT_UNAVAILABLE' });
      const readiness = await tk.kernel.health.readiness();
      expect(readiness.checks['audit']).to.deep.include({ status: 'degraded' });
      // Non-critical: the instance stays ready.
      expect(readiness.status).to.not.equal('down');
    });

    it('counts entries per action and outcome, and refused writes per action, in /metrics', async () => {
      const { tk, table } = await kernels.boot(await target.fresh(), {}, [metricsPlugin]);
      const audit = tk.get(AuditToken);
      for (let i = 0; i < 3; i++) await audit.record({ action: 'auth.login', outcome: 'failure' });
      await audit.record({ action: 'auth.login', outcome: 'success' });
      await audit.record({ action: 'admin.role.update', outcome: 'denied' });
      const scrape = async () => (await tk.inject('/metrics')).body;
      let text = await scrape();
      expect(text).to.include('audit_entries_total{action="auth.login",outcome="failure"} 3');
      expect(text).to.include('audit_entries_total{action="auth.login",outcome="success"} 1');
      expect(text).to.include('audit_entries_total{action="admin.role.update",outcome="denied"} 1');
      expect(text).to.not.match(/audit_write_failures_total\{/);
      await tk.get(DatabaseToken).em().getConnection().execute(`drop table ${table}`);
      await rejection(audit.record({ action: 'auth.login', outcome: 'failure' }));
      text = await scrape();
      expect(text).to.include('audit_write_failures_total{action="auth.login"} 1');
      // A refused write is not counted as written.
      expect(text).to.include('audit_entries_total{action="auth.login",outcome="failure"} 3');
    });

    it('registers no HTTP route of its own (GET /api/v1/audit comes with rbac)', async () => {
      const { tk } = await boot();
      const res = await tk.inject({ method: 'GET', url: '/api/v1/audit' });
      expect(res.statusCode).to.equal(404);
    });
  });
}
