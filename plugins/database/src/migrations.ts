import { Migration } from '@mikro-orm/migrations';
import { DatabaseErrors } from './errors.js';

/** What a {@link MigrationDefinition}'s `up` receives: queue SQL for the migration's transaction. */
export interface MigrationContext {
  /** The engine the migration runs on, for the few statements that differ. */
  readonly driver: 'sqlite' | 'postgresql';
  /** The configured PostgreSQL schema (the migration runs with it as search_path), if any. */
  readonly schema: string | undefined;
  /** Queues one SQL statement; statements run in order inside the migration's transaction. */
  sql(statement: string): void;
}

/** A migration written as a plain object: a name unique within its owner and an `up` step. */
export interface MigrationDefinition {
  /** Stable name (letters, digits, `_ . -`), e.g. `0001_create_note`. Stored as `<owner>:<name>`. */
  readonly name: string;
  up(m: MigrationContext): void | Promise<void>;
}

/** A MikroORM `Migration` subclass (its constructor takes the driver and the configuration). */
export type MigrationClass = new (...args: ConstructorParameters<typeof Migration>) => Migration;

/** A MikroORM migration class with an explicit name (class names can be mangled by minifiers). */
export interface NamedMigrationClass {
  readonly name: string;
  readonly class: MigrationClass;
}

/** Anything `registerMigrations` accepts: a plain definition, a named MikroORM class, or a bare class (named after the class). */
export type MigrationInput = MigrationDefinition | NamedMigrationClass | MigrationClass;

/** One migration as registered: its owner, names, where it was registered, and what to run. */
export interface RegisteredMigration {
  readonly owner: string;
  readonly name: string;
  /** `<owner>:<name>`, the name stored in the migrations table. */
  readonly fullName: string;
  /** The caller of registerMigrations (file:line), shown when two registrations collide. */
  readonly site: string;
  readonly input: MigrationDefinition | MigrationClass;
}

const OWNER = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
// The tracking table's `name` column is varchar(255); MikroORM strips a trailing .js/.ts from names.
const MAX_FULL_NAME = 255;

/** Validates one registerMigrations call and returns its entries (throws MIGRATION_INVALID naming the problem). */
export function normalizeMigrations(call: {
  readonly owner: string;
  readonly migrations: readonly MigrationInput[];
  readonly site: string;
}): RegisteredMigration[] {
  const { owner, migrations, site } = call;
  if (typeof owner !== 'string' || !OWNER.test(owner)) {
    throw DatabaseErrors.MIGRATION_INVALID(
      `registerMigrations(${JSON.stringify(owner)}) at ${site}: the owner must be kebab-case (usually the plugin's name)`,
    );
  }
  if (!Array.isArray(migrations)) {
    throw DatabaseErrors.MIGRATION_INVALID(
      `registerMigrations("${owner}") at ${site}: the second argument must be an array of migrations`,
    );
  }
  return migrations.map((m, i) => {
    const where = `registerMigrations("${owner}") at ${site}, item ${i}`;
    let name: unknown;
    let input: MigrationDefinition | MigrationClass;
    if (typeof m === 'function') {
      name = m.name;
      input = m;
    } else if (m && typeof m === 'object' && typeof (m as NamedMigrationClass).class === 'function') {
      name = m.name;
      input = (m as NamedMigrationClass).class;
    } else if (m && typeof m === 'object' && typeof (m as MigrationDefinition).up === 'function') {
      name = m.name;
      input = m as MigrationDefinition;
    } else {
      throw DatabaseErrors.MIGRATION_INVALID(
        `${where}: expected { name, up(m) }, { name, class } or a Migration class`,
      );
    }
    if (typeof name !== 'string' || !NAME.test(name) || /\.[jt]s$/.test(name)) {
      throw DatabaseErrors.MIGRATION_INVALID(
        `${where}: name ${JSON.stringify(name)} must be letters, digits, "_", "." or "-" (and not end in .js/.ts)`,
      );
    }
    const fullName = `${owner}:${name}`;
    if (fullName.length > MAX_FULL_NAME)
      throw DatabaseErrors.MIGRATION_INVALID(`${where}: "${fullName}" is longer than ${MAX_FULL_NAME} characters`);
    return { owner, name, fullName, site, input };
  });
}

/** Throws MIGRATION_DUPLICATE listing every name registered more than once, with both call sites. */
export function assertUniqueMigrations(migrations: readonly RegisteredMigration[]): void {
  const byName = new Map<string, RegisteredMigration[]>();
  for (const m of migrations) byName.set(m.fullName, [...(byName.get(m.fullName) ?? []), m]);
  const clashes = [...byName].filter(([, list]) => list.length > 1);
  if (clashes.length === 0) return;
  const lines = clashes.map(
    ([fullName, list]) =>
      `"${fullName}" is registered ${list.length} times: ${list.map((m) => `registerMigrations("${m.owner}") at ${m.site}`).join(' and ')}`,
  );
  throw DatabaseErrors.MIGRATION_DUPLICATE(`migration names must be unique, but ${lines.join('; ')}`, {
    details: { duplicates: clashes.map(([fullName, list]) => ({ name: fullName, sites: list.map((m) => m.site) })) },
  });
}

/** The `migrationsList` entry MikroORM runs for a registered migration. */
export function toMikroMigration(
  m: RegisteredMigration,
  info: { driver: 'sqlite' | 'postgresql'; schema: string | undefined },
): NamedMigrationClass {
  const input = m.input;
  if (typeof input === 'function') return { name: m.fullName, class: input };
  const definition = input;
  class DefinedMigration extends Migration {
    override async up(): Promise<void> {
      // addSql (not execute): queued statements run after the runner set search_path to the schema.
      await definition.up({ driver: info.driver, schema: info.schema, sql: (statement) => this.addSql(statement) });
    }
  }
  return { name: m.fullName, class: DefinedMigration };
}
