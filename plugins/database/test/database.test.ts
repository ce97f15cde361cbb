// The shared suite on SQLite (better-sqlite3), plus what only the embedded engine does: a file under
// the app folder that outlives the kernel, ORM logs routed to the app logger, config checks, and the
// plugin conformance kit with `:memory:`.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { plugin as httpPlugin } from '@gantry/http';
import { checkConformance, createTestKernel, memoryLogger } from '@gantry/testing';
import { expect } from 'chai';
import { DatabaseToken, plugin as databasePlugin } from '../src/index.js';
import { Note, notesPlugin } from './support/notes-plugin.js';
import { bootFailure, databaseSuite, Kernels } from './support/suite.js';

const tmpDirs: string[] = [];
async function tmpDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gantry-db-'));
  tmpDirs.push(dir);
  return dir;
}
after(async () => {
  for (const dir of tmpDirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

databaseSuite({
  driver: 'sqlite',
  fresh: async () => ({ dbName: path.join(await tmpDir(), 'test.sqlite') }),
});

describe('database plugin on sqlite: embedded specifics', () => {
  const kernels = new Kernels();
  afterEach(() => kernels.stopAll());

  it('creates var/data.sqlite under the app folder by default, and the data outlives the kernel', async () => {
    const appDir = await tmpDir();
    const boot = () => createTestKernel({ plugins: [httpPlugin, databasePlugin, notesPlugin()], appDir });
    const first = await boot();
    await first.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'persisted' } });
    await first.stop();
    expect(existsSync(path.join(appDir, 'var', 'data.sqlite'))).to.equal(true);

    const second = await boot();
    try {
      const list = (await second.inject({ method: 'GET', url: '/api/v1/notes' })).json() as { title: string }[];
      expect(list.map((n) => n.title)).to.deep.equal(['persisted']);
      // Already applied in the first run: nothing pending, nothing applied twice.
      const status = await second.get(DatabaseToken).migrationStatus();
      expect(status.executed).to.have.length(2);
    } finally {
      await second.stop();
    }
  });

  it('runs a file in WAL mode with synchronous as configured (normal by default, full on request)', async () => {
    const dir = await tmpDir();
    const pragmas = async (options: Record<string, unknown>) => {
      const tk = await kernels.boot(options);
      const em = tk.get(DatabaseToken).em();
      const [journal] = await em.execute<{ journal_mode: string }[]>('pragma journal_mode');
      const [sync] = await em.execute<{ synchronous: number }[]>('pragma synchronous');
      return { journal: journal!.journal_mode, synchronous: sync!.synchronous };
    };
    // SQLite reports synchronous as a number: 1 = NORMAL, 2 = FULL.
    expect(await pragmas({ dbName: path.join(dir, 'a.sqlite') })).to.deep.equal({ journal: 'wal', synchronous: 1 });
    expect(await pragmas({ dbName: path.join(dir, 'b.sqlite'), sqliteSynchronous: 'full' })).to.deep.equal({
      journal: 'wal',
      synchronous: 2,
    });
    expect((await pragmas({ dbName: ':memory:' })).journal).to.equal('memory');
  });

  it('works in :memory:, each kernel with its own database', async () => {
    const a = await kernels.boot({ dbName: ':memory:' });
    const b = await kernels.boot({ dbName: ':memory:' });
    await a.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'only in a' } });
    expect(((await a.inject({ method: 'GET', url: '/api/v1/notes' })).json() as unknown[]).length).to.equal(1);
    expect(((await b.inject({ method: 'GET', url: '/api/v1/notes' })).json() as unknown[]).length).to.equal(0);
  });

  it('routes ORM output to the app logger: with debug on, every query is logged there (without parameters)', async () => {
    const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const tk = await createTestKernel({
      plugins: [httpPlugin, databasePlugin, notesPlugin()],
      config: { database: { dbName: ':memory:', debug: true } },
      logger: memoryLogger(lines),
    });
    try {
      await tk.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'secret-title' } });
      const queries = lines.filter((l) => l.fields.namespace === 'query');
      expect(queries.some((l) => /insert into `note`/.test(l.msg))).to.equal(true);
      expect(queries.every((l) => l.level === 'info')).to.equal(true);
      expect(lines.some((l) => l.msg.includes('secret-title'))).to.equal(false);
      expect(lines.some((l) => /applied migration notes:0001_create_note/.test(l.msg))).to.equal(true);
    } finally {
      await tk.stop();
    }
  });

  it('logs no query with debug off', async () => {
    const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const tk = await createTestKernel({
      plugins: [httpPlugin, databasePlugin, notesPlugin()],
      config: { database: { dbName: ':memory:' } },
      logger: memoryLogger(lines),
    });
    try {
      await tk.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'quiet' } });
      expect(lines.filter((l) => l.fields.namespace === 'query')).to.deep.equal([]);
    } finally {
      await tk.stop();
    }
  });

  it('fails the start with CONNECT_FAILED when the SQLite file cannot be opened', async () => {
    const dir = await tmpDir();
    // A folder where the database file should be: SQLite cannot open it.
    const err = await bootFailure(kernels.boot({ dbName: dir }));
    expect(err.code).to.equal('GANTRY_DATABASE_CONNECT_FAILED');
    expect(err.message).to.include(dir);
  });

  it('checks its options before anything starts', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ driver: 'postgresql' }, /option "dbName": is required when driver is "postgresql"/],
      [
        { driver: 'postgresql', dbName: 'app', pool: { min: 5, max: 2 } },
        /option "pool.min": must not exceed pool.max/,
      ],
      [{ driver: 'postgresql', dbName: 'var/data.sqlite' }, /option "dbName": looks like a SQLite file/],
      [{ driver: 'mysql' }, /option "driver"/],
      [{ dbName: ':memory:', unknownOption: 1 }, /unknownOption/],
      [{ driver: 'postgresql', dbName: 'app', schema: 'drop table x;' }, /option "schema"/],
    ];
    for (const [database, message] of cases) {
      let caught: unknown;
      try {
        await createTestKernel({ plugins: [databasePlugin], config: { database } });
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(database)).to.have.property('code', 'GANTRY_CORE_BOOT_INVALID');
      expect((caught as Error).message).to.match(message);
    }
  });

  it('has no default for the PostgreSQL password and documented defaults for the rest', async () => {
    const { databaseConfigSchema } = await import('../src/index.js');
    const parsed = databaseConfigSchema.parse({ driver: 'postgresql', dbName: 'app' });
    expect(parsed.password).to.equal(undefined);
    expect(parsed).to.include({
      host: '127.0.0.1',
      port: 5432,
      migrateOnStart: true,
      debug: false,
      connectTimeoutMs: 5_000,
    });
    expect(parsed.pool).to.deep.equal({ min: 0, max: 10 });
  });

  it('lets a plugin seed data with db.em() outside a request', async () => {
    const tk = await kernels.boot({ dbName: ':memory:' }, [notesPlugin({ routes: false })]);
    const db = tk.get(DatabaseToken);
    const em = db.em();
    em.create(Note, { title: 'from a job' });
    await em.flush();
    expect(await db.em().count(Note, {})).to.equal(1);
  });

  it('passes the plugin conformance kit with :memory:', async () => {
    const results = await checkConformance({ plugin: databasePlugin, config: { database: { dbName: ':memory:' } } });
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
