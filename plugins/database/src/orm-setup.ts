import type { Logger } from '@gantry/core';
import type {
  AnyEntity,
  DriverException,
  EntityClass,
  EntitySchema,
  LoggerNamespace,
  LoggerOptions,
  MikroORM,
  TransactionOptions as OrmTransactionOptions,
} from '@mikro-orm/core';
import type { AbstractSqlDriver, SqlEntityManager } from '@mikro-orm/sqlite';
import type { DatabaseConfig } from './config.js';
import type { DatabaseErrorMapper } from './error-mapping.js';
import { DatabaseErrors } from './errors.js';
import type { NamedMigrationClass } from './migrations.js';
import { OrmLogger } from './orm-logger.js';

/** An entity another plugin contributes: a `defineEntity(...)`/`EntitySchema` value or an entity class. */
export type EntityDefinition = EntitySchema | EntityClass<AnyEntity>;

/** The ORM as the plugin holds it, whichever the driver. */
export type SqlOrm = MikroORM<AbstractSqlDriver, SqlEntityManager>;

/** Everything needed to build the ORM, gathered by the start hook. */
export interface OrmSetup {
  readonly config: DatabaseConfig;
  /** The SQLite file (absolute) or `:memory:`; unused for PostgreSQL. */
  readonly sqlitePath: string;
  readonly entities: readonly EntityDefinition[];
  readonly migrations: readonly NamedMigrationClass[];
  readonly logger: Logger;
  readonly errors: DatabaseErrorMapper;
}

// Mixins take any constructor arguments (TypeScript's rule for mixin classes).
// biome-ignore lint/suspicious/noExplicitAny: a mixin's constructor must take any[] (TS2545)
type DriverConstructor = new (...args: any[]) => AbstractSqlDriver;
// biome-ignore lint/suspicious/noExplicitAny: a mixin's constructor must take any[] (TS2545)
type EntityManagerConstructor = new (...args: any[]) => SqlEntityManager;

/**
 * The driver with MikroORM's own exception hook mapping connection loss and deadlines to coded
 * errors. It covers every query the driver runs (find, count, insert, update, delete, execute).
 */
function withMappedDriverErrors<T extends DriverConstructor>(Base: T, errors: DatabaseErrorMapper): T {
  return class MappedDriver extends Base {
    // MikroORM 7 writes every value into the SQL text (formatQuery, then CompiledQuery.raw): a value
    // must never be able to break that text. The platform's escape is wrapped once per driver.
    // biome-ignore lint/suspicious/noExplicitAny: a mixin's constructor must take any[] (TS2545)
    constructor(...args: any[]) {
      super(...args);
      guardEscape(this.getPlatform() as unknown as EscapingPlatform);
    }

    override convertException(exception: Error): DriverException {
      // A GantryError is not a DriverException; MikroORM only rethrows what this returns.
      return (errors.map(exception) ?? super.convertException(exception)) as DriverException;
    }
  };
}

/** The part of MikroORM's platform that writes values into SQL text. */
interface EscapingPlatform {
  escape(value: unknown): string;
}

/**
 * Refuses, before any SQL is sent, a text value the database cannot hold as text: a NUL character
 * (SQLite's tokenizer ends the statement there; PostgreSQL refuses it in text). The refusal is a
 * 400 naming the reason, so a plugin that forgot to validate its input still cannot cause a 5xx.
 */
function guardEscape(platform: EscapingPlatform): void {
  const escapeValue = platform.escape.bind(platform);
  // An own property: the platform's recursive calls (arrays, IN lists) go through it too.
  platform.escape = (value: unknown): string => {
    if (typeof value === 'string' && value.includes('\u0000')) {
      throw DatabaseErrors.VALUE_INVALID(
        'a text value holds a NUL character (U+0000), which the database cannot store',
        {
          details: { reason: 'nul-character' },
        },
      );
    }
    return escapeValue(value);
  };
}

/**
 * The EntityManager with the same mapping on the paths that bypass the driver's exception hook:
 * opening, committing and rolling back transactions (flush opens one) fail with the raw driver error.
 */
function withMappedEntityManagerErrors<T extends EntityManagerConstructor>(Base: T, errors: DatabaseErrorMapper): T {
  return class MappedEntityManager extends Base {
    override async flush(): Promise<void> {
      try {
        await super.flush();
      } catch (err) {
        throw errors.rethrowable(err);
      }
    }

    override async transactional<R>(cb: (em: this) => R | Promise<R>, options?: OrmTransactionOptions): Promise<R> {
      try {
        return await super.transactional(cb, options);
      } catch (err) {
        throw errors.rethrowable(err);
      }
    }

    override async begin(options?: Omit<OrmTransactionOptions, 'ignoreNestedTransactions'>): Promise<void> {
      try {
        await super.begin(options);
      } catch (err) {
        throw errors.rethrowable(err);
      }
    }

    override async commit(): Promise<void> {
      try {
        await super.commit();
      } catch (err) {
        throw errors.rethrowable(err);
      }
    }

    override async rollback(): Promise<void> {
      try {
        await super.rollback();
      } catch (err) {
        throw errors.rethrowable(err);
      }
    }
  };
}

/** Builds (without connecting: MikroORM 7 connects lazily) the ORM for the configured driver. */
export async function initOrm(setup: OrmSetup): Promise<SqlOrm> {
  const { config } = setup;
  const common = {
    entities: [...setup.entities],
    discovery: { warnWhenNoEntities: false },
    // MikroORM would create a missing PostgreSQL database on connect: a typo in dbName must fail the start instead.
    ensureDatabase: false,
    migrations: {
      migrationsList: [...setup.migrations],
      // In-code migrations only: no snapshot file in the working directory, no console output.
      snapshot: false,
      silent: true,
      transactional: true,
      allOrNothing: true,
      ...(config.schema ? { schema: config.schema } : {}),
    },
    debug: (config.debug ? ['query'] : false) as LoggerNamespace[] | false,
    colors: false,
    loggerFactory: (options: LoggerOptions) => new OrmLogger(setup.logger, options),
  };
  // Driver packages are loaded on demand: an embedded app never loads pg, a PostgreSQL one never loads better-sqlite3.
  if (config.driver === 'sqlite') {
    const {
      MikroORM: SqliteORM,
      defineConfig,
      SqliteDriver,
      SqlEntityManager: SqliteEntityManager,
    } = await import('@mikro-orm/sqlite');
    const { Migrator } = await import('@mikro-orm/migrations');
    const orm = await SqliteORM.init(
      defineConfig({
        ...common,
        extensions: [Migrator],
        dbName: setup.sqlitePath,
        driver: withMappedDriverErrors(SqliteDriver, setup.errors) as typeof SqliteDriver,
        entityManager: withMappedEntityManagerErrors(SqliteEntityManager, setup.errors) as typeof SqliteEntityManager,
        // better-sqlite3: how long a statement waits for a lock held by another connection.
        driverOptions: { timeout: config.connectTimeoutMs },
        onCreateConnection: async (connection: unknown) => {
          const conn = connection as { executeQuery(q: { sql: string; parameters: unknown[] }): Promise<unknown> };
          for (const sql of sqlitePragmas(setup.sqlitePath, config.sqliteSynchronous))
            await conn.executeQuery({ sql, parameters: [] });
        },
      }),
    );
    return orm as unknown as SqlOrm;
  }
  const {
    MikroORM: PgORM,
    defineConfig,
    PostgreSqlDriver,
    EntityManager: PostgreSqlEntityManager,
  } = await import('@mikro-orm/postgresql');
  const { Migrator } = await import('@mikro-orm/migrations');
  const connection = config.clientUrl
    ? { clientUrl: config.clientUrl, ...(config.dbName ? { dbName: config.dbName } : {}) }
    : { host: config.host, port: config.port, user: config.user, password: config.password, dbName: config.dbName };
  const orm = await PgORM.init(
    defineConfig({
      ...common,
      extensions: [Migrator],
      ...connection,
      ...(config.schema ? { schema: config.schema } : {}),
      driver: withMappedDriverErrors(PostgreSqlDriver, setup.errors) as typeof PostgreSqlDriver,
      entityManager: withMappedEntityManagerErrors(
        PostgreSqlEntityManager,
        setup.errors,
      ) as typeof PostgreSqlEntityManager,
      // A fresh object: the validated config is frozen and the pool options are handed to pg as they are.
      pool: { min: config.pool.min, max: config.pool.max },
      driverOptions: { connectionTimeoutMillis: config.connectTimeoutMs },
    }),
  );
  return orm as unknown as SqlOrm;
}

/** `host:port/db` (credentials removed) or the SQLite path: where the database is, for logs and boot errors. */
/**
 * The pragmas every SQLite connection starts with. A file runs in WAL mode (readers never block the
 * writer, one sync per checkpoint instead of several per commit: the journal mode Rails and most
 * embedded servers choose) with `synchronous` as configured; `:memory:` has no journal to choose.
 */
export function sqlitePragmas(file: string, synchronous: 'normal' | 'full'): string[] {
  if (file === ':memory:') return [];
  return ['pragma journal_mode = wal', `pragma synchronous = ${synchronous}`];
}

export function describeTarget(config: DatabaseConfig, sqlitePath: string): string {
  if (config.driver === 'sqlite') return sqlitePath;
  if (config.clientUrl) {
    try {
      const url = new URL(config.clientUrl);
      return `${url.hostname}:${url.port || 5432}/${config.dbName ?? url.pathname.slice(1)}`;
    } catch {
      return '(clientUrl)';
    }
  }
  return `${config.host}:${config.port}/${config.dbName ?? ''}`;
}
