import type { MigrationDefinition } from '@gantry/plugin-database';

/** The notes table, for SQLite and PostgreSQL alike. */
export const noteMigrations: readonly MigrationDefinition[] = [
  {
    name: '0001_create_note',
    up(m) {
      const ts = m.driver === 'postgresql' ? 'timestamptz' : 'datetime';
      m.sql(`create table sandbox_note (
        id varchar(36) not null primary key,
        title varchar(200) not null,
        body text not null,
        created_at ${ts} not null,
        updated_at ${ts} not null)`);
      m.sql('create index sandbox_note_created_at_idx on sandbox_note (created_at)');
    },
  },
  {
    // Notes belong to their author. Rows written before have no owner: only `notes:read-any` sees them.
    name: '0002_note_owner',
    up(m) {
      m.sql('alter table sandbox_note add column owner_id varchar(36)');
      m.sql('create index sandbox_note_owner_created_idx on sandbox_note (owner_id, created_at)');
    },
  },
  {
    // The projection fed by `notes.created` events (when kafka-events is enabled): notes created per account.
    name: '0003_note_activity',
    up(m) {
      m.sql(`create table sandbox_note_activity (
        owner_id varchar(36) not null primary key,
        notes_created integer not null,
        last_note_id varchar(36) not null)`);
    },
  },
];
