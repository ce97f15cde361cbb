// The end-to-end suite on the real PostgreSQL (127.0.0.1:5432, database "test"), each app in a schema
// of its own with a random name; every schema is dropped at the end.
import { randomBytes } from 'node:crypto';
import { DatabaseToken, plugin as databasePlugin } from '@gantry/plugin-database';
import { createTestKernel } from '@gantry/testing';
import { oauthSuite } from './support/suite.js';

const PG = { driver: 'postgresql', host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), user: 'postgres', dbName: 'test' };
const schemas: string[] = [];

after(async () => {
  const admin = await createTestKernel({ plugins: [databasePlugin], config: { database: { ...PG, migrateOnStart: false } } });
  try {
    const connection = admin.get(DatabaseToken).em().getConnection();
    for (const schema of schemas.splice(0)) await connection.execute(`drop schema if exists "${schema}" cascade`);
  } finally {
    await admin.stop();
  }
});

oauthSuite({
  driver: 'postgresql',
  fresh: async () => {
    const schema = `gantry_oauth_test_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    return { ...PG, schema };
  },
});
