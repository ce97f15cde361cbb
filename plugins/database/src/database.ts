import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { currentContext, type GantryError, type Logger } from '@gantry/core';
import type { IsolationLevel } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sqlite';
import { DEFAULT_SQLITE_PATH, type DatabaseConfig } from './config.js';
import { DatabaseErrorMapper } from './error-mapping.js';
import { DatabaseErrors } from './errors.js';
import {
  assertUniqueMigrations,
  normalizeMigrations,
  toMikroMigration,
  type MigrationInput,
  type RegisteredMigration,
} from './migrations.js';
import { describeTarget, initOrm, type EntityDefinition, type SqlOrm } from './orm-setup.js';

/** Options of {@link Database.transaction}. */
export interface TransactionOptions {
  readonly isolationLevel?: IsolationLevel | `${IsolationLevel}`;
  readonly readOnly?: boolean;
}

/** What `db:status` and {@link Database.migrationStatus} report. */
export interface MigrationStatus {
  /** Applied migrations, oldest first. */
  readonly executed: readonly { readonly name: string; readonly executedAt: Date }[];
  /** Registered migrations not applied yet, in the order they will run. */
  readonly pending: readonly string[];
}

/** Result of {@link Database.ping}. */
export type DatabasePing =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: string; readonly code?: string };

/**
 * The database service other plugins get with `ctx.container.get(DatabaseToken)`.
 * Register entities and migrations in `register()`; use `em()` and `transaction()` once started.
 */
export interface Database {
  /** The configured engine. */
  readonly driver: 'sqlite' | 'postgresql';
  /** Adds entities (`defineEntity(...)` values or entity classes). Only during register(). */
  registerEntities(entities: readonly EntityDefinition[]): void;
  /**
   * Adds migrations owned by `owner` (kebab-case, usually the plugin's name); each is stored as
   * `<owner>:<name>`. Migrations run in registration order. Only during register(); a name
   * registered twice fails the start with GANTRY_DATABASE_MIGRATION_DUPLICATE.
   */
  registerMigrations(owner: string, migrations: readonly MigrationInput[]): void;
  /**
   * The EntityManager of the current request: forked on first use in the request, then the same
   * one for the rest of it (requests that never call it pay nothing). Its queries stop at the
   * request's deadline. Outside a request (commands, start hooks, jobs) every call returns a new fork.
   */
  em(): SqlEntityManager;
  /**
   * Runs `work` in a transaction on the request's EntityManager: commits and returns its value, or
   * rolls back and rethrows the error `work` threw. Refuses to begin (GANTRY_DATABASE_DEADLINE_EXCEEDED)
   * when the request's deadline has passed or the request was cancelled.
   */
  transaction<T>(work: (em: SqlEntityManager) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Applies pending migrations and returns the names that ran (what `db:migrate` does). */
  migrate(): Promise<readonly string[]>;
  /** Applied and pending migrations (what `db:status` prints). */
  migrationStatus(): Promise<MigrationStatus>;
  /** Checks the database answers (`select 1`), connecting first if needed. */
  ping(): Promise<DatabasePing>;
  /** The MikroORM instance, for what this interface does not cover (schema tools, raw connection). */
  orm(): SqlOrm;
}

/** What the service needs from the plugin context. */
export interface DatabaseServiceOptions {
  readonly config: DatabaseConfig;
  readonly appDir: string;
  readonly logger: Logger;
}

type State = 'registering' | 'starting' | 'started' | 'stopped';

/** The {@link Database} implementation; the plugin drives `start()` and `stop()` from its lifecycle hook. */
export class DatabaseService implements Database {
  readonly driver: 'sqlite' | 'postgresql';
  private readonly entities = new Set<EntityDefinition>();
  private readonly migrations: RegisteredMigration[] = [];
  // Per instance, not per module: two kernels in one process never see each other's EntityManager.
  private readonly slot = Symbol('gantry.database.em');
  private readonly sqlitePath: string;
  private readonly target: string;
  private readonly errors: DatabaseErrorMapper;
  private state: State = 'registering';
  private current: SqlOrm | undefined;

  constructor(private readonly options: DatabaseServiceOptions) {
    const { config } = options;
    this.driver = config.driver;
    const file = config.dbName ?? DEFAULT_SQLITE_PATH;
    this.sqlitePath = file === ':memory:' ? file : path.resolve(options.appDir, file);
    this.target = describeTarget(config, this.sqlitePath);
    this.errors = new DatabaseErrorMapper({ driver: config.driver, target: this.target, logger: options.logger });
  }

  registerEntities(entities: readonly EntityDefinition[]): void {
    this.assertOpen('registerEntities', this.registerEntities);
    if (!Array.isArray(entities))
      throw DatabaseErrors.ENTITY_INVALID(
        `registerEntities() at ${callSite(this.registerEntities)}: expected an array of entities`,
      );
    entities.forEach((e, i) => {
      if ((typeof e !== 'object' && typeof e !== 'function') || e === null) {
        throw DatabaseErrors.ENTITY_INVALID(
          `registerEntities() at ${callSite(this.registerEntities)}: item ${i} is not an entity (use defineEntity({...}))`,
        );
      }
      this.entities.add(e);
    });
  }

  registerMigrations(owner: string, migrations: readonly MigrationInput[]): void {
    this.assertOpen('registerMigrations', this.registerMigrations);
    this.migrations.push(...normalizeMigrations({ owner, migrations, site: callSite(this.registerMigrations) }));
  }

  em(): SqlEntityManager {
    const orm = this.requireOrm('em');
    const ctx = currentContext();
    if (ctx === undefined) return orm.em.fork();
    let em = ctx.get<SqlEntityManager>(this.slot);
    if (em === undefined) {
      // The fork carries the request's signal: no query starts once the deadline has passed.
      em = orm.em.fork({ signal: ctx.signal });
      ctx.set(this.slot, em);
    }
    return em;
  }

  async transaction<T>(work: (em: SqlEntityManager) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    this.requireOrm('transaction');
    const ctx = currentContext();
    if (ctx !== undefined && (ctx.remainingMs() === 0 || ctx.signal.aborted)) {
      throw DatabaseErrors.DEADLINE_EXCEEDED(
        `request ${ctx.requestId} has no time left (deadline passed or request cancelled): the transaction was not started`,
        {
          cause: ctx.signal.reason,
        },
      );
    }
    // PostgreSQL ends the transaction's statements itself at the request's deadline (57014 → 504), so
    // a query still running when the request gives up stops holding its locks and its connection.
    const bound = ctx !== undefined && this.options.config.driver === 'postgresql' ? ctx : undefined;
    try {
      return await this.em().transactional(
        async (em) => {
          if (bound) await em.execute(`set local statement_timeout = ${Math.max(1, bound.remainingMs())}`);
          return work(em);
        },
        { isolationLevel: options.isolationLevel as IsolationLevel | undefined, readOnly: options.readOnly },
      );
    } catch (err) {
      throw this.errors.rethrowable(err);
    }
  }

  async migrate(): Promise<readonly string[]> {
    return this.runMigrations(this.requireOrm('migrate'));
  }

  async migrationStatus(): Promise<MigrationStatus> {
    const migrator = this.requireOrm('migrationStatus').migrator;
    try {
      // One after the other: each call creates the migrations table when missing, concurrently they race.
      const executed = await migrator.getExecuted();
      const pending = await migrator.getPending();
      return {
        executed: executed.map((row) => ({ name: row.name, executedAt: new Date(row.executed_at) })),
        pending: pending.map((m) => m.name),
      };
    } catch (err) {
      throw this.errors.rethrowable(err);
    }
  }

  async ping(): Promise<DatabasePing> {
    const orm = this.current;
    if (!orm || this.state !== 'started') return { ok: false, reason: `not started (${this.state})` };
    let check = await orm.checkConnection();
    // MikroORM 7 answers "Connection not established" (without an error) until something connected;
    // a failed query carries its error, and reconnecting then would only repeat it.
    if (!check.ok && check.error === undefined) {
      await orm.connect().catch(() => undefined);
      check = await orm.checkConnection();
    }
    if (check.ok) return { ok: true };
    // /readyz shows only the code; the log gets the whole reason (host included) for operators.
    this.errors.reportOutage(check.error ?? check.reason);
    const code = (check.error as { code?: unknown } | undefined)?.code;
    return { ok: false, reason: check.reason, ...(typeof code === 'string' ? { code } : {}) };
  }

  orm(): SqlOrm {
    return this.requireOrm('orm');
  }

  /** Builds the ORM, connects (failing with CONNECT_FAILED) and, when configured, applies pending migrations. */
  async start(): Promise<void> {
    if (this.state !== 'registering')
      throw DatabaseErrors.NOT_STARTED(`the database service cannot start in state "${this.state}"`, {
        fix: 'create a new kernel for each start',
      });
    // From here on registration is closed: the entity and migration lists are what the ORM is built from.
    this.state = 'starting';
    try {
      assertUniqueMigrations(this.migrations);
      const { config } = this.options;
      if (config.driver === 'sqlite' && this.sqlitePath !== ':memory:') this.createFolder();
      let orm: SqlOrm;
      try {
        orm = await initOrm({
          config,
          sqlitePath: this.sqlitePath,
          entities: [...this.entities],
          migrations: this.migrations.map((m) => toMikroMigration(m, { driver: config.driver, schema: config.schema })),
          logger: this.options.logger,
          errors: this.errors,
        });
      } catch (cause) {
        throw DatabaseErrors.ENTITY_INVALID(
          `the ORM cannot be built from the registered entities: ${(cause as Error)?.message ?? String(cause)}`,
          { cause },
        );
      }
      try {
        await orm.connect();
        // connect() only builds the pool: a round trip proves the server, credentials and database are right.
        const check = await orm.checkConnection();
        if (!check.ok) throw check.error ?? DatabaseErrors.CONNECT_FAILED(check.reason);
      } catch (cause) {
        await orm.close(true).catch(() => undefined);
        throw this.connectFailed(cause);
      }
      this.current = orm;
      if (config.migrateOnStart) {
        try {
          await this.runMigrations(orm);
        } catch (err) {
          this.current = undefined;
          await orm.close(true).catch(() => undefined);
          throw err;
        }
      }
      this.state = 'started';
      this.options.logger.info(
        { driver: this.driver, target: this.target, entities: this.entities.size, migrations: this.migrations.length },
        `database ready (${this.driver} at ${this.target})`,
      );
    } catch (err) {
      this.state = 'stopped';
      throw err;
    }
  }

  /** Closes the ORM (the connection pool or the SQLite file). */
  async stop(): Promise<void> {
    this.state = 'stopped';
    const orm = this.current;
    this.current = undefined;
    await orm?.close();
  }

  private async runMigrations(orm: SqlOrm): Promise<readonly string[]> {
    const migrator = orm.migrator;
    let running: string | undefined;
    const onMigrating = (e: { name: string }): void => {
      running = e.name;
    };
    const onMigrated = (e: { name: string }): void => {
      this.options.logger.info({ migration: e.name }, `applied migration ${e.name}`);
    };
    migrator.on('migrating', onMigrating).on('migrated', onMigrated);
    try {
      const ran = await migrator.up();
      return ran.map((m) => m.name);
    } catch (cause) {
      const mapped = this.errors.map(cause);
      if (mapped && DatabaseErrors.UNAVAILABLE.is(mapped)) throw mapped;
      const which = running ? `migration "${running}"` : 'reading the migrations table';
      throw DatabaseErrors.MIGRATION_FAILED(`${which} failed: ${(cause as Error)?.message ?? String(cause)}`, {
        cause,
        details: { migration: running ?? null },
      });
    } finally {
      migrator.off('migrating', onMigrating).off('migrated', onMigrated);
    }
  }

  private createFolder(): void {
    const dir = path.dirname(this.sqlitePath);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (cause) {
      throw DatabaseErrors.CONNECT_FAILED(
        `cannot create the folder ${dir} of the SQLite database: ${(cause as Error).message}`,
        {
          cause,
          fix: 'make the folder writable, or set dbName (GANTRY_DATABASE__DB_NAME) to a writable path or ":memory:"',
          details: { driver: this.driver, target: this.target },
        },
      );
    }
  }

  private connectFailed(cause: unknown): GantryError {
    const reason = (cause as Error)?.message ?? String(cause);
    const { config } = this.options;
    if (config.driver === 'sqlite') {
      return DatabaseErrors.CONNECT_FAILED(`cannot open the SQLite database ${this.target}: ${reason}`, {
        cause,
        fix: 'make the file and its folder writable, or set dbName (GANTRY_DATABASE__DB_NAME) to another path or ":memory:"',
        details: { driver: this.driver, target: this.target },
      });
    }
    return DatabaseErrors.CONNECT_FAILED(`cannot connect to PostgreSQL at ${this.target}: ${reason}`, {
      cause,
      fix: `start PostgreSQL at ${this.target.split('/')[0]}, or correct host/port/dbName/user/password or clientUrl (GANTRY_DATABASE__HOST, __PORT, __DB_NAME, __USER, __PASSWORD, __CLIENT_URL)`,
      details: { driver: this.driver, target: this.target },
    });
  }

  private assertOpen(method: string, fn: (...args: never[]) => unknown): void {
    if (this.state !== 'registering') {
      throw DatabaseErrors.REGISTRATION_CLOSED(
        `${method}() was called at ${callSite(fn)} after the database plugin started (state "${this.state}"); the ORM is already built`,
      );
    }
  }

  private requireOrm(method: string): SqlOrm {
    const orm = this.current;
    if (orm === undefined || this.state !== 'started') {
      const when =
        this.state === 'stopped' ? 'after the database plugin stopped' : 'before the database plugin started';
      throw DatabaseErrors.NOT_STARTED(`db.${method}() was called ${when}`);
    }
    return orm;
  }
}

/** `file:line:col` of the code that called `fn` (relative to the working folder), for error messages. */
function callSite(fn: (...args: never[]) => unknown): string {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, fn);
  const frame = holder.stack
    ?.split('\n')[1]
    ?.trim()
    .replace(/^at\s+/, '');
  if (!frame) return 'an unknown location';
  const location = /\((.*)\)$/.exec(frame)?.[1] ?? frame;
  const file = location.startsWith('file://') ? decodeURIComponent(location.slice('file://'.length)) : location;
  return path.isAbsolute(file) ? path.relative(process.cwd(), file) : file;
}
