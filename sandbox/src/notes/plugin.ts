import { definePlugin } from '@gantry/core';
import { DatabaseToken } from '@gantry/plugin-database';
import { z } from 'zod';
import { SandboxErrors } from '../errors.js';
import { NoteEntity, type Note } from './entity.js';
import { noteMigrations } from './migrations.js';

const noteInput = z
  .object({
    title: z.string().trim().min(1).max(200).describe('Title, 1 to 200 characters'),
    body: z.string().max(10_000).default('').describe('Text, up to 10,000 characters'),
  })
  .strict();
const notePatch = noteInput.partial().strict().refine((v) => Object.keys(v).length > 0, 'send at least one of title, body');
const idParams = z.object({ id: z.uuid() }).strict();
const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();

function view(n: Note): Record<string, unknown> {
  return { id: n.id, title: n.title, body: n.body, createdAt: n.createdAt.toISOString(), updatedAt: n.updatedAt.toISOString() };
}

/** The sandbox's example resource: `/api/v1/notes` CRUD, validated, stored through the database plugin. */
export const plugin = definePlugin({
  name: 'notes',
  version: '0.1.0',
  kernel: '^0.1.0',
  description: 'Example resource of the sandbox',
  dependsOn: ['http', 'database'],
  requires: [DatabaseToken],
  register(ctx) {
    const db = ctx.container.get(DatabaseToken);
    db.registerEntities([NoteEntity]);
    db.registerMigrations('notes', noteMigrations);
    const tags = ['notes'];

    ctx.http.post('/notes', { summary: 'Create a note', tags, status: 201, schema: { body: noteInput }, meta: { public: true } }, async (req, reply) => {
      const em = db.em();
      const note = em.create(NoteEntity, req.body);
      await em.flush();
      reply.header('location', `${req.path}/${note.id}`);
      return view(note);
    });

    ctx.http.get('/notes', { summary: 'List notes, newest first', tags, schema: { query: listQuery }, meta: { public: true } }, async (req) => {
      const [items, total] = await db.em().findAndCount(NoteEntity, {}, { orderBy: { createdAt: 'desc', id: 'asc' }, limit: req.query.limit, offset: req.query.offset });
      return { items: items.map(view), total, limit: req.query.limit, offset: req.query.offset };
    });

    ctx.http.get('/notes/:id', { summary: 'Read a note', tags, schema: { params: idParams }, meta: { public: true } }, async (req) => {
      const note = await db.em().findOne(NoteEntity, { id: req.params.id });
      if (!note) throw SandboxErrors.NOTE_NOT_FOUND(`no note with id ${req.params.id}`);
      return view(note);
    });

    ctx.http.patch('/notes/:id', { summary: 'Change a note', tags, schema: { params: idParams, body: notePatch }, meta: { public: true } }, async (req) =>
      db.transaction(async (em) => {
        const note = await em.findOne(NoteEntity, { id: req.params.id });
        if (!note) throw SandboxErrors.NOTE_NOT_FOUND(`no note with id ${req.params.id}`);
        if (req.body.title !== undefined) note.title = req.body.title;
        if (req.body.body !== undefined) note.body = req.body.body;
        return view(note);
      }),
    );

    ctx.http.delete('/notes/:id', { summary: 'Delete a note', tags, schema: { params: idParams }, meta: { public: true } }, async (req) => {
      const deleted = await db.em().nativeDelete(NoteEntity, { id: req.params.id });
      if (deleted === 0) throw SandboxErrors.NOTE_NOT_FOUND(`no note with id ${req.params.id}`);
      return undefined;
    });

    ctx.health.check(() => ({ status: 'up' }), { critical: false });
  },
});
