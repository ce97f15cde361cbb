// A small plugin built the way an application plugin uses the database: it registers an entity and
// its migrations in register(), and serves routes that read and write through db.em() and db.transaction().
import { CoreErrors, definePlugin, type Plugin } from '@gantry/core';
import { z } from 'zod';
import { DatabaseToken, defineEntity, p, type Database, type MigrationInput } from '../../src/index.js';

/** A note: autoincrement id, unique title. */
export const Note = defineEntity({
  name: 'Note',
  tableName: 'note',
  properties: {
    id: p.integer().primary(),
    title: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

/** The table of {@link Note}, in the dialect the migration runs on. */
export const createNoteTable: MigrationInput = {
  name: '0001_create_note',
  up(m) {
    m.sql(
      m.driver === 'postgresql'
        ? 'create table "note" ("id" serial primary key, "title" varchar(255) not null, "created_at" timestamptz not null)'
        : 'create table `note` (`id` integer not null primary key autoincrement, `title` text not null, `created_at` datetime not null)',
    );
  },
};

/** A unique index on the title (same SQL on both engines). */
export const uniqueNoteTitle: MigrationInput = {
  name: '0002_unique_title',
  up(m) {
    m.sql('create unique index note_title_unique on note (title)');
  },
};

/** What the notes plugin registers and serves. */
export interface NotesPluginOptions {
  readonly name?: string;
  readonly owner?: string;
  readonly migrations?: readonly MigrationInput[];
  /** Serve the /notes routes (needs the http plugin). Default true. */
  readonly routes?: boolean;
  /** Extra step run in register() with the database service (to misuse it on purpose). */
  readonly onRegister?: (db: Database) => void;
  /** Extra step run in this plugin's start hook. */
  readonly onStart?: (db: Database) => void | Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Builds the test plugin. */
export function notesPlugin(options: NotesPluginOptions = {}): Plugin {
  const routes = options.routes ?? true;
  return definePlugin({
    name: options.name ?? 'notes',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: routes ? ['database', 'http'] : ['database'],
    requires: [DatabaseToken],
    register(ctx) {
      const db = ctx.container.get(DatabaseToken);
      db.registerEntities([Note]);
      db.registerMigrations(options.owner ?? 'notes', options.migrations ?? [createNoteTable, uniqueNoteTitle]);
      options.onRegister?.(db);
      if (options.onStart) {
        const onStart = options.onStart;
        ctx.lifecycle.hook({ name: 'notes-start', start: () => onStart(db) });
      }
      if (!routes) return;

      ctx.http.post(
        '/notes',
        { schema: { body: z.object({ title: z.string().min(1) }) }, status: 201 },
        async (req) => {
          const em = db.em();
          const note = em.create(Note, { title: req.body.title });
          await em.flush();
          return { id: note.id, title: note.title };
        },
      );
      ctx.http.get('/notes', {}, async () => {
        const notes = await db.em().find(Note, {}, { orderBy: { id: 'asc' } });
        return notes.map((n) => ({ id: n.id, title: n.title }));
      });
      ctx.http.get('/notes/:id', { schema: { params: z.object({ id: z.coerce.number().int() }) } }, async (req) => {
        const note = await db.em().findOne(Note, { id: req.params.id });
        if (!note) throw CoreErrors.NOT_FOUND(`note ${req.params.id} does not exist`);
        return { id: note.id, title: note.title, createdAt: note.createdAt.toISOString() };
      });
      ctx.http.get('/em', {}, async () => {
        const first = db.em();
        const second = db.em();
        await first.count(Note, {});
        return { same: first === second, id: first.id };
      });
      ctx.http.get('/no-db', {}, () => ({ ok: true }));
      ctx.http.post(
        '/notes/batch',
        {
          schema: { body: z.object({ titles: z.array(z.string().min(1)), fail: z.boolean().default(false) }) },
          status: 201,
        },
        async (req) => {
          const count = await db.transaction(async (em) => {
            for (const title of req.body.titles) em.create(Note, { title });
            // The INSERTs really run inside the transaction before the failure below.
            await em.flush();
            if (req.body.fail) throw CoreErrors.CONFLICT('batch refused after writing its notes');
            return em.count(Note, {});
          });
          return { count };
        },
      );
      ctx.http.post('/late/transaction', {}, async (req) => {
        await sleep(req.context.remainingMs() + 20);
        return db.transaction(async (em) => em.count(Note, {}));
      });
      ctx.http.post('/late/inside-transaction', {}, async (req) => {
        return db.transaction(async (em) => {
          em.create(Note, { title: 'written before the deadline' });
          await em.flush();
          await sleep(req.context.remainingMs() + 20);
          return em.count(Note, {});
        });
      });
      ctx.http.post('/late/slow-statement', {}, async () => {
        // A statement that outlives the deadline by far: PostgreSQL must stop it at the deadline.
        return db.transaction(async (em) => em.execute("select pg_sleep(5), 'gantry-slow-statement'"));
      });
      ctx.http.get('/late/find', {}, async (req) => {
        await sleep(req.context.remainingMs() + 20);
        return db.em().find(Note, {});
      });
    },
  });
}
