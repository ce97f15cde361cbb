import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@gantry/plugin-database';

/** A note: the sandbox's example resource, owned by the account that wrote it. */
export const NoteEntity = defineEntity({
  name: 'Note',
  tableName: 'sandbox_note',
  properties: {
    id: p
      .uuid()
      .primary()
      .onCreate(() => randomUUID()),
    // Null only for notes written before notes had owners (migration 0002): only `notes:read-any` sees them.
    ownerId: p.string().length(36).nullable(),
    title: p.string().length(200),
    body: p.text(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

/** A loaded note. */
export type Note = InferEntity<typeof NoteEntity>;
