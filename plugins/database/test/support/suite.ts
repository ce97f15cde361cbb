// The behaviour every driver must have, run against SQLite (database.test.ts) and the real
// PostgreSQL (database.pg.test.ts). A target hands out empty databases and cleans them up.
import { CoreErrors, GantryError, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import {
  DatabaseErrors,
  DatabaseToken,
  Migration,
  plugin as databasePlugin,
  type MigrationInput,
} from '../../src/index.js';
import { createNoteTable, Note, notesPlugin } from './notes-plugin.js';

/** A database engine the suite runs against. */
export interface SuiteTarget {
  readonly driver: 'sqlite' | 'postgresql';
  /** Options of the `database` plugin for a new, empty database (reuse them for a second kernel on the same one). */
  fresh(): Promise<Record<string, unknown>>;
}

/** Boots kernels for one test and stops them all afterwards. */
export class Kernels {
  private readonly started: TestKernel[] = [];

  async boot(
    database: Record<string, unknown>,
    plugins: readonly Plugin[] = [notesPlugin()],
    http: Record<string, unknown> = {},
  ): Promise<TestKernel> {
    const tk = await createTestKernel({
      plugins: [httpPlugin, databasePlugin, ...plugins],
      config: { database, http },
    });
    this.started.push(tk);
    return tk;
  }

  async stopAll(): Promise<void> {
    while (this.started.length > 0) await this.started.pop()!.stop();
  }
}

/** Runs `fn` with process.stdout captured; returns what it printed, line by line. */
export async function captureStdout<T>(fn: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const original = process.stdout.write;
  let text = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    const result = await fn();
    return { result, lines: text.split('\n').filter((l) => l.length > 0) };
  } finally {
    process.stdout.write = original;
  }
}

/** The error a failed boot was caused by (the kernel wraps it in HOOK_FAILED / REGISTER_FAILED). */
export async function bootFailure(promise: Promise<unknown>): Promise<GantryError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, 'the kernel should not have started').to.be.instanceOf(Error);
  let e = caught as Error;
  while (GantryError.is(e) && e.code.startsWith('GANTRY_CORE_') && e.cause instanceof Error) e = e.cause;
  expect(GantryError.is(e), `expected a coded error, got ${String(e)}`).to.equal(true);
  return e as GantryError;
}

/** The behaviour shared by every driver. */
export function databaseSuite(target: SuiteTarget): void {
  describe(`database plugin on ${target.driver}`, () => {
    const kernels = new Kernels();
    afterEach(() => kernels.stopAll());

    describe('migrations', () => {
      it('applies the registered migrations at start, prefixed with their owner, and reports them as executed', async () => {
        const tk = await kernels.boot(await target.fresh());
        const status = await tk.get(DatabaseToken).migrationStatus();
        expect(status.executed.map((m) => m.name)).to.deep.equal(['notes:0001_create_note', 'notes:0002_unique_title']);
        expect(status.pending).to.deep.equal([]);
        expect(status.executed[0]!.executedAt).to.be.instanceOf(Date);
      });

      it('leaves migrations pending with migrateOnStart false; db:migrate applies them and prints what ran; db:status prints both lists', async () => {
        const options = { ...(await target.fresh()), migrateOnStart: false };
        const tk = await kernels.boot(options);
        const db = tk.get(DatabaseToken);
        expect((await db.migrationStatus()).pending).to.deep.equal([
          'notes:0001_create_note',
          'notes:0002_unique_title',
        ]);

        const before = await captureStdout(() => tk.kernel.runCommand('db:status'));
        expect(before.result).to.equal(0);
        expect(before.lines).to.deep.equal([
          'pending  notes:0001_create_note',
          'pending  notes:0002_unique_title',
          'database: 0 executed, 2 pending',
        ]);

        const migrate = await captureStdout(() => tk.kernel.runCommand('db:migrate'));
        expect(migrate.result).to.equal(0);
        expect(migrate.lines).to.deep.equal([
          'applied notes:0001_create_note',
          'applied notes:0002_unique_title',
          'database: applied 2 migrations',
        ]);

        const after = await captureStdout(() => tk.kernel.runCommand('db:status'));
        expect(after.lines).to.have.length(3);
        expect(after.lines[0]).to.match(/^executed notes:0001_create_note \(\d{4}-\d\d-\d\dT/);
        expect(after.lines[2]).to.equal('database: 2 executed, 0 pending');

        const again = await captureStdout(() => tk.kernel.runCommand('db:migrate'));
        expect(again.lines).to.deep.equal(['database: no pending migrations']);

        // The tables exist now: the entity can be written.
        const res = await tk.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'after db:migrate' } });
        expect(res.statusCode).to.equal(201);
      });

      it('runs migrations in registration order, across owners, not sorted by name', async () => {
        const order: MigrationInput[] = [
          createNoteTable,
          { name: 'zz_first', up: (m) => m.sql('create table zeta_first (id integer primary key)') },
        ];
        const plugins = [
          notesPlugin({ routes: false, migrations: order }),
          notesPlugin({
            name: 'alpha',
            owner: 'alpha',
            routes: false,
            migrations: [{ name: 'aa_second', up: (m) => m.sql('create table alpha_second (id integer primary key)') }],
          }),
        ];
        const tk = await kernels.boot(await target.fresh(), plugins);
        const status = await tk.get(DatabaseToken).migrationStatus();
        expect(status.executed.map((m) => m.name)).to.deep.equal([
          'notes:0001_create_note',
          'notes:zz_first',
          'alpha:aa_second',
        ]);
      });

      it('accepts MikroORM Migration classes, named explicitly or after the class', async () => {
        class CreateTagTable extends Migration {
          override up(): void {
            this.addSql('create table tag (id integer primary key, label varchar(50) not null)');
          }
        }
        class AddTagIndex extends Migration {
          override up(): void {
            this.addSql('create index tag_label_idx on tag (label)');
          }
        }
        const plugins = [
          notesPlugin({
            routes: false,
            migrations: [createNoteTable, CreateTagTable, { name: '0003_tag_index', class: AddTagIndex }],
          }),
        ];
        const tk = await kernels.boot(await target.fresh(), plugins);
        const status = await tk.get(DatabaseToken).migrationStatus();
        expect(status.executed.map((m) => m.name)).to.deep.equal([
          'notes:0001_create_note',
          'notes:CreateTagTable',
          'notes:0003_tag_index',
        ]);
      });

      it('refuses to start when two registrations use the same migration name, naming both call sites', async () => {
        const duplicate = notesPlugin({
          name: 'notes-copy',
          owner: 'notes',
          routes: false,
          migrations: [createNoteTable],
        });
        const err = await bootFailure(kernels.boot(await target.fresh(), [notesPlugin(), duplicate]));
        expect(err.code).to.equal('GANTRY_DATABASE_MIGRATION_DUPLICATE');
        expect(err.message).to.include('"notes:0001_create_note" is registered 2 times');
        // Both registrations are reported with the file that made them.
        expect(err.message.match(/notes-plugin\.js:\d+:\d+/g)).to.have.length(2);
        expect(err.details).to.have.nested.property('duplicates[0].name', 'notes:0001_create_note');
      });

      it('rolls back the whole pending batch when one migration fails, and names it', async () => {
        const options = await target.fresh();
        const broken: MigrationInput = {
          name: '0002_broken',
          up: (m) => m.sql('create table note_broken (id integer primary key, oops not a type here ('),
        };
        const err = await bootFailure(
          kernels.boot(options, [notesPlugin({ routes: false, migrations: [createNoteTable, broken] })]),
        );
        expect(err.code).to.equal('GANTRY_DATABASE_MIGRATION_FAILED');
        expect(err.message).to.include('migration "notes:0002_broken" failed');

        // Same database, without the broken migration and without migrating: the first one was rolled back too.
        const tk = await kernels.boot({ ...options, migrateOnStart: false }, [
          notesPlugin({ routes: false, migrations: [createNoteTable] }),
        ]);
        const status = await tk.get(DatabaseToken).migrationStatus();
        expect(status.executed).to.deep.equal([]);
        expect(status.pending).to.deep.equal(['notes:0001_create_note']);
      });

      it('rejects invalid registrations at once with a coded error', async () => {
        const badOwner = notesPlugin({ routes: false, owner: 'Not Kebab' });
        const err = await bootFailure(kernels.boot(await target.fresh(), [badOwner]));
        expect(err.code).to.equal('GANTRY_DATABASE_MIGRATION_INVALID');
        expect(err.message).to.include('owner must be kebab-case');
      });
    });

    describe('registration and lifecycle', () => {
      it('closes registration once started: registerEntities from a start hook fails with REGISTRATION_CLOSED', async () => {
        const late = notesPlugin({ routes: false, onStart: (db) => db.registerEntities([Note]) });
        const err = await bootFailure(kernels.boot(await target.fresh(), [late]));
        expect(err.code).to.equal(DatabaseErrors.REGISTRATION_CLOSED.code);
        expect(err.message).to.include('registerEntities()');
      });

      it('refuses db.em() during register() with NOT_STARTED', async () => {
        const early = notesPlugin({ routes: false, onRegister: (db) => void db.em() });
        const err = await bootFailure(kernels.boot(await target.fresh(), [early]));
        expect(err.code).to.equal(DatabaseErrors.NOT_STARTED.code);
        expect(err.message).to.include('before the database plugin started');
      });

      it('lets dependent plugins use the database in their start hooks, and refuses it after stop', async () => {
        let seen = -1;
        const seeding = notesPlugin({
          routes: false,
          onStart: async (db) => {
            const em = db.em();
            em.create(Note, { title: 'seeded at start' });
            await em.flush();
            seen = await db.em().count(Note, {});
          },
        });
        const tk = await kernels.boot(await target.fresh(), [seeding]);
        expect(seen).to.equal(1);
        const db = tk.get(DatabaseToken);
        await tk.stop();
        expect(() => db.em())
          .to.throw()
          .with.property('code', DatabaseErrors.NOT_STARTED.code);
      });
    });

    describe('request-scoped EntityManager', () => {
      it('creates, lists and reads notes through db.em() inside requests', async () => {
        const tk = await kernels.boot(await target.fresh());
        const created = await tk.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'first' } });
        expect(created.statusCode).to.equal(201);
        const { id } = created.json() as { id: number };
        expect(id).to.be.a('number');
        await tk.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'second' } });

        const list = await tk.inject({ method: 'GET', url: '/api/v1/notes' });
        expect(list.json()).to.deep.equal([
          { id, title: 'first' },
          { id: id + 1, title: 'second' },
        ]);
        const one = await tk.inject({ method: 'GET', url: `/api/v1/notes/${id}` });
        expect(one.statusCode).to.equal(200);
        expect(new Date((one.json() as { createdAt: string }).createdAt).getTime()).to.be.greaterThan(0);
        const missing = await tk.inject({ method: 'GET', url: '/api/v1/notes/999999' });
        expect(missing.statusCode).to.equal(404);
      });

      it('hands out one EntityManager per request: the same one twice within a request, another in the next request', async () => {
        const tk = await kernels.boot(await target.fresh());
        const a = (await tk.inject({ method: 'GET', url: '/api/v1/em' })).json() as { same: boolean; id: number };
        const b = (await tk.inject({ method: 'GET', url: '/api/v1/em' })).json() as { same: boolean; id: number };
        expect(a.same).to.equal(true);
        expect(b.same).to.equal(true);
        expect(a.id).to.not.equal(b.id);
      });

      it('forks nothing for a request that never touches the database', async () => {
        const tk = await kernels.boot(await target.fresh());
        const db = tk.get(DatabaseToken);
        // Outside a request every call forks; fork ids come from one counter.
        const before = db.em().id;
        const res = await tk.inject({ method: 'GET', url: '/api/v1/no-db' });
        expect(res.statusCode).to.equal(200);
        expect(db.em().id).to.equal(before + 1);
      });

      it('returns a new EntityManager on each call outside a request', async () => {
        const tk = await kernels.boot(await target.fresh());
        const db = tk.get(DatabaseToken);
        expect(db.em()).to.not.equal(db.em());
      });

      it('stops database work once the request deadline has passed (504 GANTRY_DATABASE_DEADLINE_EXCEEDED)', async () => {
        const tk = await kernels.boot(await target.fresh(), [notesPlugin()], { requestTimeoutMs: 5 });
        for (const [method, url] of [
          ['POST', '/api/v1/late/transaction'],
          ['POST', '/api/v1/late/inside-transaction'],
          ['GET', '/api/v1/late/find'],
        ] as const) {
          const res = await tk.inject({ method, url });
          expect(res.statusCode, url).to.equal(504);
          expect(res.json()).to.include({ code: 'GANTRY_DATABASE_DEADLINE_EXCEEDED' });
        }
        // The transaction that ran out of time was rolled back: its INSERT is gone.
        const db = tk.get(DatabaseToken);
        expect(await db.em().count(Note, {})).to.equal(0);
      });
    });

    describe('transactions', () => {
      it('commits the work of a transaction and returns its value', async () => {
        const tk = await kernels.boot(await target.fresh());
        const res = await tk.inject({
          method: 'POST',
          url: '/api/v1/notes/batch',
          payload: { titles: ['a', 'b', 'c'] },
        });
        expect(res.statusCode).to.equal(201);
        expect(res.json()).to.deep.equal({ count: 3 });
        const list = (await tk.inject({ method: 'GET', url: '/api/v1/notes' })).json() as { title: string }[];
        expect(list.map((n) => n.title)).to.deep.equal(['a', 'b', 'c']);
      });

      it('rolls back on throw, rethrowing the original error, and leaves no partial write', async () => {
        const tk = await kernels.boot(await target.fresh());
        await tk.inject({ method: 'POST', url: '/api/v1/notes', payload: { title: 'kept' } });
        const res = await tk.inject({
          method: 'POST',
          url: '/api/v1/notes/batch',
          payload: { titles: ['x', 'y'], fail: true },
        });
        expect(res.statusCode).to.equal(409);
        expect(res.json()).to.include({ code: CoreErrors.CONFLICT.code });
        const list = (await tk.inject({ method: 'GET', url: '/api/v1/notes' })).json() as { title: string }[];
        expect(list.map((n) => n.title)).to.deep.equal(['kept']);
      });

      it('rethrows the very error the work threw (outside a request too), and rolls back a failed INSERT', async () => {
        const tk = await kernels.boot(await target.fresh());
        const db = tk.get(DatabaseToken);
        const boom = new Error('boom');
        let caught: unknown;
        try {
          await db.transaction(async (em) => {
            em.create(Note, { title: 'never committed' });
            await em.flush();
            throw boom;
          });
        } catch (err) {
          caught = err;
        }
        expect(caught).to.equal(boom);

        // A unique violation inside the transaction: the driver's exception, not a 503.
        let violation: unknown;
        try {
          await db.transaction(async (em) => {
            em.create(Note, { title: 'twice' });
            em.create(Note, { title: 'twice' });
            await em.flush();
          });
        } catch (err) {
          violation = err;
        }
        expect((violation as Error).name).to.equal('UniqueConstraintViolationException');
        expect(await db.em().count(Note, {})).to.equal(0);
      });
    });

    describe('values the database cannot hold', () => {
      // What a plugin that forgot to validate its input gets: a 400 with a code, never a 5xx, and no write.
      async function refusal(work: () => Promise<unknown>): Promise<GantryError> {
        let caught: unknown;
        try {
          await work();
        } catch (err) {
          caught = err;
        }
        expect(GantryError.is(caught), `expected a coded error, got ${String(caught)}`).to.equal(true);
        return caught as GantryError;
      }

      it('refuses a NUL character in a written value with 400 GANTRY_DATABASE_VALUE_INVALID and writes nothing', async () => {
        const tk = await kernels.boot(await target.fresh(), [notesPlugin({ routes: false })]);
        const db = tk.get(DatabaseToken);
        const err = await refusal(async () => {
          const em = db.em();
          em.create(Note, { title: 'a\u0000b' });
          await em.flush();
        });
        expect(err.code).to.equal(DatabaseErrors.VALUE_INVALID.code);
        expect(err.status).to.equal(400);
        expect(await db.em().count(Note, {})).to.equal(0);
      });

      it('refuses a NUL character in a filter (also inside an IN list) the same way, and keeps answering', async () => {
        const tk = await kernels.boot(await target.fresh(), [notesPlugin({ routes: false })]);
        const db = tk.get(DatabaseToken);
        for (const where of [
          { title: '\u0000' },
          { title: { $in: ['ok', 'x\u0000'] } },
          { title: { $like: '%\u0000%' } },
        ]) {
          const err = await refusal(() => db.em().find(Note, where));
          expect(err.code, JSON.stringify(where)).to.equal(DatabaseErrors.VALUE_INVALID.code);
        }
        const em = db.em();
        em.create(Note, {
          title: "it's fine: other control characters \u0001\t and quotes ' \" \\ are stored as they are",
        });
        await em.flush();
        const [note] = await db.em().find(Note, {}, { disableIdentityMap: true });
        expect(note!.title).to.equal(
          "it's fine: other control characters \u0001\t and quotes ' \" \\ are stored as they are",
        );
      });

      if (target.driver === 'postgresql') {
        it('answers a value too long for its column with 400 GANTRY_DATABASE_VALUE_INVALID (SQLSTATE class 22), not a 5xx', async () => {
          const tk = await kernels.boot(await target.fresh(), [notesPlugin({ routes: false })]);
          const db = tk.get(DatabaseToken);
          const err = await refusal(async () => {
            const em = db.em();
            em.create(Note, { title: 'x'.repeat(300) });
            await em.flush();
          });
          expect(err.code).to.equal(DatabaseErrors.VALUE_INVALID.code);
          expect(err.details).to.deep.include({ driverCode: '22001' });
        });
      }
    });

    describe('readiness', () => {
      it('reports the database up in /readyz with the driver', async () => {
        const tk = await kernels.boot(await target.fresh());
        const res = await tk.inject({ method: 'GET', url: '/readyz' });
        expect(res.statusCode).to.equal(200);
        const body = res.json() as { checks: Record<string, { status: string; details?: Record<string, unknown> }> };
        expect(body.checks.database).to.deep.include({ status: 'up', details: { driver: target.driver } });
      });
    });
  });
}
