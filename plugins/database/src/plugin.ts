import { definePlugin, packageVersion } from '@gantry/core';
import { migrateCommand, statusCommand, type Print } from './commands.js';
import { databaseConfigSchema } from './config.js';
import { DatabaseService } from './database.js';
import { DatabaseToken } from './tokens.js';

const stdout: Print = (line) => void process.stdout.write(`${line}\n`);

/** The `database` plugin: MikroORM on SQLite (embedded) or PostgreSQL, migrations, request-scoped EntityManager. */
export const plugin = definePlugin({
  name: 'database',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'MikroORM on SQLite or PostgreSQL: entities and migrations from other plugins, request-scoped EntityManager, transactions',
  provides: [DatabaseToken],
  config: databaseConfigSchema,
  register(ctx) {
    const db = new DatabaseService({ config: ctx.config, appDir: ctx.appDir, logger: ctx.logger });
    ctx.provide(DatabaseToken, db);
    // Plugins that depend on "database" start after this hook: the ORM is ready in their start hooks.
    ctx.lifecycle.hook({ name: 'orm', start: () => db.start(), stop: () => db.stop() });
    ctx.health.check(
      async () => {
        const ping = await db.ping();
        return ping.ok
          ? { status: 'up', details: { driver: db.driver } }
          : // The code only (ECONNREFUSED...): /readyz is public and the full reason names internal hosts; it is in the logs.
            { status: 'down', details: { driver: db.driver, error: ping.code ?? 'unreachable' } };
      },
      // Reconnecting may take up to connectTimeoutMs.
      { timeoutMs: ctx.config.connectTimeoutMs + 1_000 },
    );
    ctx.command('db:migrate', () => migrateCommand(db, stdout), 'Apply pending database migrations and print what ran');
    ctx.command('db:status', () => statusCommand(db, stdout), 'Print applied and pending database migrations');
  },
});
