import type { Database } from './database.js';

/** Where a command prints (stdout in production). */
export type Print = (line: string) => void;

/** `db:migrate`: applies pending migrations and prints one line per migration that ran. */
export async function migrateCommand(db: Database, print: Print): Promise<number> {
  const ran = await db.migrate();
  if (ran.length === 0) print('database: no pending migrations');
  else {
    for (const name of ran) print(`applied ${name}`);
    print(`database: applied ${ran.length} migration${ran.length === 1 ? '' : 's'}`);
  }
  return 0;
}

/** `db:status`: prints applied migrations (with their time) and pending ones. */
export async function statusCommand(db: Database, print: Print): Promise<number> {
  const status = await db.migrationStatus();
  for (const m of status.executed) print(`executed ${m.name} (${m.executedAt.toISOString()})`);
  for (const name of status.pending) print(`pending  ${name}`);
  print(`database: ${status.executed.length} executed, ${status.pending.length} pending`);
  return 0;
}
