// The shared suite on the real PostgreSQL (127.0.0.1:5432, database "test"), each kernel in a schema
// of its own with a random name; every schema is dropped at the end.
import { postgresSchemas } from '@gantry/plugin-database/testing';
import { auditSuite } from './support/suite.js';

const pg = postgresSchemas('audit');
after(() => pg.dropAll());

auditSuite({
  driver: 'postgresql',
  fresh: async () => pg.fresh(),
});
