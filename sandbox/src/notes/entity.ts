import { randomUUID } from 'node:crypto';
import { defineEntity, p, type InferEntity } from '@gantry/plugin-database';

/** A note: the sandbox's example resource. */
export const NoteEntity = defineEntity({
  name: 'Note',
  tableName: 'sandbox_note',
  properties: {
    id: p.uuid().primary().onCreate(() => randomUUID()),
    title: p.string().length(200),
    body: p.text(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
});

/** A loaded note. */
export type Note = InferEntity<typeof NoteEntity>;
