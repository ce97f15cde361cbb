import { defineEntity, p, type InferEntity, type MigrationDefinition } from '@gantry/plugin-database';

/** One row of the audit trail (table `audit_event`). Rows are only ever inserted. */
export const AuditEventEntity = defineEntity({
  name: 'AuditEvent',
  tableName: 'audit_event',
  properties: {
    id: p.string().length(36).primary(),
    occurredAt: p.datetime(),
    action: p.string().length(100),
    outcome: p.string().length(16),
    actorId: p.string().length(255).nullable(),
    actorKind: p.string().length(64).nullable(),
    objectType: p.string().length(100).nullable(),
    objectId: p.string().length(255).nullable(),
    requestId: p.string().length(128).nullable(),
    ip: p.string().length(64).nullable(),
    // JSON text, not a JSON column: identical on SQLite and PostgreSQL, and read back exactly as written.
    details: p.text().nullable(),
  },
});

/** A loaded audit row. */
export type AuditEventRow = InferEntity<typeof AuditEventEntity>;

/** The `audit_event` table and its indexes (by time, by actor then time), for SQLite and PostgreSQL. */
export const auditMigrations: readonly MigrationDefinition[] = [
  {
    name: '0001_create_audit_event',
    up(m) {
      const ts = m.driver === 'postgresql' ? 'timestamptz' : 'datetime';
      m.sql(`create table audit_event (
        id varchar(36) not null primary key,
        occurred_at ${ts} not null,
        action varchar(100) not null,
        outcome varchar(16) not null,
        actor_id varchar(255) null,
        actor_kind varchar(64) null,
        object_type varchar(100) null,
        object_id varchar(255) null,
        request_id varchar(128) null,
        ip varchar(64) null,
        details text null)`);
      m.sql('create index audit_event_occurred_at_idx on audit_event (occurred_at, id)');
      m.sql('create index audit_event_actor_idx on audit_event (actor_id, occurred_at)');
    },
  },
];
