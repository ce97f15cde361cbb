import { defineErrors } from '@gantry/core';

/** Error registry of the `database` plugin (codes `GANTRY_DATABASE_<REASON>`). Retired codes are never reused. */
export const DatabaseErrors = defineErrors('database', {
  UNAVAILABLE: {
    status: 503,
    title: 'Database unavailable',
    fix: 'retry later; operators: check that the database is up and reachable (see /readyz and the "database unavailable" log lines)',
  },
  DEADLINE_EXCEEDED: {
    status: 504,
    title: 'Database work past the request deadline',
    fix: 'make the work fit the request deadline (http requestTimeoutMs) or move it to a background job',
  },
  VALUE_INVALID: {
    status: 400,
    title: 'A value the database cannot store',
    fix: "send text without NUL characters and values within the field's range and length (the application should have refused it with a 400 field error: validate the field with a @gantry/core text schema)",
  },
  CONNECT_FAILED: {
    status: 503,
    title: 'Database unreachable at start',
    fix: 'start the database, or correct the database options (host, port, clientUrl, dbName) or their GANTRY_DATABASE__* variables',
  },
  NOT_STARTED: {
    status: 500,
    title: 'Database used before start or after stop',
    fix: 'use the database in request handlers, commands or start hooks of plugins that list "database" in dependsOn, not in register()',
  },
  REGISTRATION_CLOSED: {
    status: 500,
    title: 'Entities or migrations registered too late',
    fix: 'call registerEntities()/registerMigrations() inside register() of a plugin that lists "database" in dependsOn',
  },
  ENTITY_INVALID: {
    status: 500,
    title: 'Entity definitions are invalid',
    fix: 'correct the entity named in the message (defineEntity({ name, properties }) with a primary key)',
  },
  MIGRATION_INVALID: {
    status: 500,
    title: 'Migration registration is invalid',
    fix: 'pass a kebab-case owner and migrations as { name, up(m) { m.sql(...) } } or { name, class } (names: letters, digits, _ . -)',
  },
  MIGRATION_DUPLICATE: {
    status: 500,
    title: 'Two migrations share a name',
    fix: 'rename one of them (a name is unique within its owner) or remove the second registration',
  },
  MIGRATION_FAILED: {
    status: 500,
    title: 'Migration failed',
    fix: 'correct the failing migration; the pending batch was rolled back, so run db:migrate again once it is fixed',
  },
});
