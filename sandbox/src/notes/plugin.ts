import { definePlugin, line, patchSchema, text, type Principal, type RouteRequest } from '@gantry/core';
import { AuditToken } from '@gantry/plugin-audit';
import { DatabaseToken } from '@gantry/plugin-database';
import { defineEvent, EventsToken } from '@gantry/plugin-kafka-events';
import { authenticated, RbacErrors, RbacToken } from '@gantry/plugin-rbac';
import { z } from 'zod';
import { SandboxErrors } from '../errors.js';
import { NoteEntity, type Note } from './entity.js';
import { noteMigrations } from './migrations.js';

/** Reads anyone's notes (and lists them with `?owner=`); checked in the handlers, granted to admin. */
export const READ_ANY = 'notes:read-any';
/** Changes and deletes anyone's notes. */
export const WRITE_ANY = 'notes:write-any';

const noteInput = z
  .object({
    title: line({ min: 1, max: 200, trim: true }).describe('Title, 1 to 200 characters, one line'),
    body: text({ max: 10_000 }).default('').describe('Text, up to 10,000 characters'),
  })
  .strict();
// A PATCH changes what it names and nothing else: no default applies, `{}` is refused.
const notePatch = patchSchema(noteInput);
// UUIDs are case-insensitive on input (RFC 9562): stored lower-case, so an upper-case id finds the note.
const idParams = z.object({ id: z.uuid().toLowerCase() }).strict();
const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
    owner: z
      .union([z.literal('all'), z.uuid().toLowerCase()])
      .optional()
      .describe(`Whose notes: yours by default; "all" or an account id needs ${READ_ANY}`),
  })
  .strict();

/** Event-bus topic of note changes: `{ action, id, ownerId, title }`, keyed by the owner's id. */
export const NOTES_CHANGED = 'notes.changed';

/** The payload of a {@link NOTES_CHANGED} event. */
export interface NoteChanged {
  readonly action: 'created' | 'updated' | 'deleted';
  readonly id: string;
  readonly ownerId: string | null;
  readonly title: string;
}

function changeOf(action: NoteChanged['action'], n: Note): NoteChanged {
  return { action, id: n.id, ownerId: n.ownerId ?? null, title: n.title };
}

/** A note as the API answers it (documents the success bodies in the OpenAPI document). */
const noteView = z.object({
  id: z.uuid(),
  ownerId: z.uuid().nullable(),
  title: z.string(),
  body: z.string(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
const noteList = z.object({
  items: z.array(noteView),
  total: z.number().int().min(0),
  limit: z.number().int(),
  offset: z.number().int(),
});
/** The caller's note activity, as projected from `notes.created` events. */
const noteActivity = z.object({
  ownerId: z.uuid(),
  notesCreated: z.number().int().min(0),
  lastNoteId: z.uuid().nullable(),
  projected: z.boolean(),
});

/** Published through the outbox when a note is created (with kafka-events enabled), keyed by its author. */
export const NoteCreated = defineEvent({
  type: 'notes.created',
  version: 1,
  data: z.object({ noteId: z.string().min(1), ownerId: z.string().min(1), title: z.string() }).strict(),
});

function view(n: Note): z.output<typeof noteView> {
  return {
    id: n.id,
    ownerId: n.ownerId ?? null,
    title: n.title,
    body: n.body,
    createdAt: n.createdAt.toISOString(),
    updatedAt: n.updatedAt.toISOString(),
  };
}

function caller(req: RouteRequest): Principal {
  // Every route is authenticated: the HTTP layer answered 401 before the handler otherwise.
  return req.context.principal!;
}

/**
 * The sandbox's example resource, `/api/v1/notes`, built the way a resource should be: every route
 * authenticated, each note owned by its author; another account's note answers 404 (its id says
 * nothing), unless the caller holds `notes:read-any` / `notes:write-any` (admin). Changes are audited.
 */
export const plugin = definePlugin({
  name: 'notes',
  version: '0.1.0',
  kernel: '^0.1.0',
  description: 'Example resource of the sandbox: notes owned by their author',
  dependsOn: ['http', 'database', 'rbac', 'audit'],
  optionalDependsOn: ['kafka-events'],
  requires: [DatabaseToken, RbacToken, AuditToken],
  register(ctx) {
    const db = ctx.container.get(DatabaseToken);
    const rbac = ctx.container.get(RbacToken);
    const audit = ctx.container.get(AuditToken);
    db.registerEntities([NoteEntity]);
    db.registerMigrations('notes', noteMigrations);
    rbac.declare([READ_ANY, WRITE_ANY]);
    const tags = ['notes'];
    const meta = { ...authenticated() };
    const events = ctx.container.tryGet(EventsToken);
    const table = (name: string): string => {
      const schema = db.driver === 'postgresql' ? (db.orm().config.get('schema') as string | undefined) : undefined;
      return schema ? `"${schema}".${name}` : name;
    };
    if (events) {
      events.define(NoteCreated);
      // The projection: applied once per event (the processed mark shares its transaction).
      events.on(
        NoteCreated,
        async (event, { em }) => {
          const t = table('sandbox_note_activity');
          await em!.execute(
            `insert into ${t} (owner_id, notes_created, last_note_id) values (?, 1, ?)
             on conflict (owner_id) do update set notes_created = ${t}.notes_created + 1, last_note_id = excluded.last_note_id`,
            [event.data.ownerId, event.data.noteId],
          );
          ctx.logger.info({ noteId: event.data.noteId, ownerId: event.data.ownerId }, 'notes: note created (event)');
        },
        { name: 'notes-activity', transactional: true },
      );
    }

    /** The note if the caller may see it (its owner, or `notes:read-any`); otherwise 404, as if it did not exist. */
    async function visible(id: string, who: Principal, permission: string): Promise<Note> {
      const note = await db.em().findOne(NoteEntity, { id });
      if (!note || (note.ownerId !== who.id && !(await rbac.can(who.id, permission))))
        throw SandboxErrors.NOTE_NOT_FOUND(`no note with id ${id}`);
      return note;
    }

    /**
     * @openapi
     * /api/v1/notes:
     *   post:
     *     description: |
     *       Creates a note owned by the caller. The answer carries its `Location`; the note is
     *       private to its author (and to holders of `notes:read-any`).
     *     requestBody:
     *       content:
     *         application/json:
     *           example: { title: Groceries, body: "Milk, bread" }
     */
    ctx.http.post(
      '/notes',
      {
        summary: 'Create a note (yours)',
        tags,
        status: 201,
        schema: { body: noteInput, response: noteView },
        meta,
      },
      async (req, reply) => {
        // The note and its `notes.created` event commit together, or neither does.
        const note = await db.transaction(async (em) => {
          const created = em.create(NoteEntity, { ...req.body, ownerId: caller(req).id });
          await em.flush();
          await events?.publish(
            NoteCreated,
            { noteId: created.id, ownerId: created.ownerId!, title: created.title },
            { key: created.ownerId!, em },
          );
          return created;
        });
        await audit.record({ action: 'note.create', outcome: 'success', object: { type: 'note', id: note.id } });
        // Pushed to the owner's WebSocket / GraphQL subscriptions by the realtime plugin (kafka-events carries it when enabled).
        await ctx.events.publish({
          topic: NOTES_CHANGED,
          key: note.ownerId ?? undefined,
          payload: changeOf('created', note),
        });
        reply.header('location', `${req.path}/${note.id}`);
        return view(note);
      },
    );

    ctx.http.get(
      '/notes',
      {
        summary: `List notes, newest first: yours, or anyone's with ${READ_ANY}`,
        tags,
        schema: { query: listQuery, response: noteList },
        meta,
      },
      async (req) => {
        const who = caller(req);
        const { limit, offset, owner } = req.query;
        if (owner !== undefined && owner !== who.id && !(await rbac.can(who.id, READ_ANY))) {
          throw RbacErrors.FORBIDDEN(`listing other accounts' notes needs the permission "${READ_ANY}"`, {
            details: { permission: READ_ANY },
          });
        }
        const where = owner === 'all' ? {} : { ownerId: owner ?? who.id };
        const [items, total] = await db
          .em()
          .findAndCount(NoteEntity, where, { orderBy: { createdAt: 'desc', id: 'asc' }, limit, offset });
        return { items: items.map(view), total, limit, offset };
      },
    );

    ctx.http.get(
      '/notes/activity',
      {
        summary: 'Your note activity, as projected from notes.created events (kafka-events)',
        tags,
        schema: { response: noteActivity },
        meta,
      },
      async (req) => {
        const who = caller(req);
        const rows = await db
          .em()
          .execute<{ notes_created: number | string; last_note_id: string }[]>(
            `select notes_created, last_note_id from ${table('sandbox_note_activity')} where owner_id = ?`,
            [who.id],
          );
        const row = rows[0];
        return {
          ownerId: who.id,
          notesCreated: row ? Number(row.notes_created) : 0,
          lastNoteId: row?.last_note_id ?? null,
          projected: events !== undefined,
        };
      },
    );

    ctx.http.get(
      '/notes/:id',
      { summary: 'Read a note', tags, schema: { params: idParams, response: noteView }, meta },
      async (req) => view(await visible(req.params.id, caller(req), READ_ANY)),
    );

    ctx.http.patch(
      '/notes/:id',
      {
        summary: 'Change a note (only the fields sent)',
        tags,
        schema: { params: idParams, body: notePatch, response: noteView },
        meta,
      },
      async (req) => {
        const who = caller(req);
        const changed = await db.transaction(async (em) => {
          const note = await em.findOne(NoteEntity, { id: req.params.id });
          if (!note || (note.ownerId !== who.id && !(await rbac.can(who.id, WRITE_ANY))))
            throw SandboxErrors.NOTE_NOT_FOUND(`no note with id ${req.params.id}`);
          if (req.body.title !== undefined) note.title = req.body.title;
          if (req.body.body !== undefined) note.body = req.body.body;
          // Flushed here so the answer carries the updatedAt the row now holds.
          await em.flush();
          return note;
        });
        await audit.record({
          action: 'note.update',
          outcome: 'success',
          object: { type: 'note', id: changed.id },
          details: { fields: Object.keys(req.body) },
        });
        await ctx.events.publish({
          topic: NOTES_CHANGED,
          key: changed.ownerId ?? undefined,
          payload: changeOf('updated', changed),
        });
        return view(changed);
      },
    );

    ctx.http.delete(
      '/notes/:id',
      { summary: 'Delete a note', tags, status: 204, schema: { params: idParams }, meta },
      async (req) => {
        const note = await visible(req.params.id, caller(req), WRITE_ANY);
        await db.em().nativeDelete(NoteEntity, { id: note.id });
        await audit.record({ action: 'note.delete', outcome: 'success', object: { type: 'note', id: note.id } });
        await ctx.events.publish({
          topic: NOTES_CHANGED,
          key: note.ownerId ?? undefined,
          payload: changeOf('deleted', note),
        });
        return undefined;
      },
    );

    ctx.health.check(() => ({ status: 'up' }), { critical: false });
  },
});
