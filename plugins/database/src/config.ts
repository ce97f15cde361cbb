import { z } from 'zod';

/** Where the SQLite file goes when `dbName` is not set (relative to the app folder). */
export const DEFAULT_SQLITE_PATH = 'var/data.sqlite';

// Unquoted PostgreSQL identifier: the schema name is interpolated into DDL and search_path.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Options of the `database` plugin (config key `database`, env `GANTRY_DATABASE__<KEY>`). */
export const databaseConfigSchema = z
  .object({
    driver: z
      .enum(['sqlite', 'postgresql'])
      .default('sqlite')
      .describe('Database engine: `sqlite` (embedded: a file, or `:memory:`) or `postgresql`'),
    dbName: z
      .string()
      .min(1)
      .optional()
      .describe(
        `SQLite: file path relative to the app folder, or \`:memory:\` (default \`${DEFAULT_SQLITE_PATH}\`; its folder is created at start). PostgreSQL: database name (required unless \`clientUrl\` names one)`,
      ),
    clientUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'must look like postgresql://user:password@host:5432/db')
      .optional()
      .describe(
        'PostgreSQL connection URL `postgresql://user:password@host:port/db`; it replaces host, port, user and password, and its path names the database unless dbName is set. It may hold a secret: set it through GANTRY_DATABASE__CLIENT_URL',
      ),
    host: z.string().min(1).default('127.0.0.1').describe('PostgreSQL server host'),
    port: z.number().int().min(1).max(65535).default(5432).describe('PostgreSQL server port'),
    user: z
      .string()
      .min(1)
      .optional()
      .describe("PostgreSQL user (default: the pg driver's, i.e. $PGUSER, else the OS user)"),
    password: z
      .string()
      .optional()
      .describe('PostgreSQL password. A secret: no default; set it through GANTRY_DATABASE__PASSWORD'),
    schema: z
      .string()
      .regex(IDENTIFIER, 'must be a plain identifier (letters, digits, underscore)')
      .optional()
      .describe(
        "PostgreSQL schema of the tables and of the migrations table (created when missing; default: the server's search_path, usually `public`)",
      ),
    pool: z
      .object({
        min: z.number().int().min(0).default(0).describe('Connections kept open when idle'),
        max: z
          .number()
          .int()
          .min(1)
          .default(10)
          .describe('Most connections open at once; further queries wait for a free one'),
      })
      .strict()
      .default({ min: 0, max: 10 })
      .describe('PostgreSQL connection pool size: `{ min, max }`'),
    sqliteSynchronous: z
      .enum(['normal', 'full'])
      .default('normal')
      .describe(
        'SQLite (a file, in WAL mode): `normal` syncs to disk at checkpoints, not at every commit (safe from corruption and from a crash of the process; a power loss may undo the last commits), `full` syncs at every commit',
      ),
    migrateOnStart: z
      .boolean()
      .default(true)
      .describe('Run pending migrations in the start hook (otherwise run the `db:migrate` command)'),
    debug: z
      .boolean()
      .default(false)
      .describe('Log every SQL query (info level, through the app logger; parameters are not logged)'),
    connectTimeoutMs: z
      .number()
      .int()
      .positive()
      .default(5_000)
      .describe(
        'PostgreSQL: how long to wait for a connection before failing; SQLite: how long to wait on a locked database file',
      ),
  })
  .strict()
  .superRefine((c, issue) => {
    if (c.driver === 'postgresql' && c.dbName === undefined && !hasDatabasePath(c.clientUrl)) {
      issue.addIssue({
        code: 'custom',
        path: ['dbName'],
        message: 'is required when driver is "postgresql" (or give clientUrl with a database name)',
      });
    }
    // A base config written for SQLite and a profile that switches the driver share one dbName.
    if (
      c.driver === 'postgresql' &&
      c.dbName !== undefined &&
      (c.dbName === ':memory:' || /[/\\]|\.(sqlite3?|db)$/i.test(c.dbName))
    ) {
      issue.addIssue({
        code: 'custom',
        path: ['dbName'],
        message:
          'looks like a SQLite file; with driver "postgresql" it is the database name (a profile that switches the driver must set dbName too)',
      });
    }
    if (c.pool.min > c.pool.max)
      issue.addIssue({ code: 'custom', path: ['pool', 'min'], message: `must not exceed pool.max (${c.pool.max})` });
  });

/** Validated options of the `database` plugin. */
export type DatabaseConfig = z.output<typeof databaseConfigSchema>;

function hasDatabasePath(url: string | undefined): boolean {
  if (!url) return false;
  try {
    return new URL(url).pathname.length > 1;
  } catch {
    return false;
  }
}
