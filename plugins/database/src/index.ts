/** @gantry/plugin-database: MikroORM on SQLite or PostgreSQL for Gantry. */
export { plugin } from './plugin.js';
export { databaseConfigSchema, DEFAULT_SQLITE_PATH, type DatabaseConfig } from './config.js';
export { DatabaseErrors } from './errors.js';
export { DatabaseToken } from './tokens.js';
export type { Database, DatabasePing, MigrationStatus, TransactionOptions } from './database.js';
export type {
  MigrationClass,
  MigrationContext,
  MigrationDefinition,
  MigrationInput,
  NamedMigrationClass,
} from './migrations.js';
export type { EntityDefinition, SqlOrm } from './orm-setup.js';
// The ORM building blocks plugins need, from the one MikroORM copy this plugin runs (entities must be defined with it).
export {
  defineEntity,
  EntitySchema,
  LockMode,
  p,
  UniqueConstraintViolationException,
  type InferEntity,
} from '@mikro-orm/core';
export { Migration } from '@mikro-orm/migrations';
export type { SqlEntityManager } from '@mikro-orm/sqlite';
