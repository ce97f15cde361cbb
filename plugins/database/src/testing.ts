// Test helper of the database plugin (`@gantry/plugin-database/testing`): disposable PostgreSQL
// schemas, so a plugin's suite runs against the real server without seeing another run's tables.
import { randomBytes } from 'node:crypto';
import { createKernel, silentLogger } from '@gantry/core';
import { plugin } from './plugin.js';
import { DatabaseToken } from './tokens.js';

/** Options of the `database` plugin reaching the test PostgreSQL: PGHOST / PGPORT / PGUSER / PGDATABASE, else 127.0.0.1:5432, postgres, test. */
export function testPostgres(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  return {
    driver: 'postgresql',
    host: env.PGHOST ?? '127.0.0.1',
    port: Number(env.PGPORT ?? 5432),
    user: env.PGUSER ?? 'postgres',
    ...(env.PGPASSWORD ? { password: env.PGPASSWORD } : {}),
    dbName: env.PGDATABASE ?? 'test',
  };
}

/** Schemas handed out by {@link postgresSchemas}. */
export interface TestSchemas {
  /** Options of the `database` plugin for a new schema with a random name (created by the first migration). */
  fresh(): Record<string, unknown> & { schema: string };
  /** Drops every schema handed out so far (`drop schema … cascade`). */
  dropAll(): Promise<void>;
}

/**
 * Random schemas named `gantry_<owner>_test_<hex>` on the test PostgreSQL; call `dropAll()` in an
 * `after` hook. Two kernels given the same options share one schema (two-instance tests).
 */
export function postgresSchemas(owner: string, base: Record<string, unknown> = testPostgres()): TestSchemas {
  const handedOut: string[] = [];
  return {
    fresh() {
      const schema = `gantry_${owner.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_test_${randomBytes(5).toString('hex')}`;
      handedOut.push(schema);
      return { ...base, schema };
    },
    async dropAll() {
      if (handedOut.length === 0) return;
      const admin = await createKernel({
        config: { plugins: { database: { ...base, migrateOnStart: false } } },
        plugins: [plugin],
        env: {},
        logger: silentLogger(),
      });
      await admin.start();
      try {
        const connection = admin.get(DatabaseToken).em().getConnection();
        for (const schema of handedOut.splice(0)) await connection.execute(`drop schema if exists "${schema}" cascade`);
      } finally {
        await admin.stop();
      }
    },
  };
}
