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
];
