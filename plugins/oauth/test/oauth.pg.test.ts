// The end-to-end suite on the real PostgreSQL (127.0.0.1:5432, database "test"), each app in a schema
// of its own with a random name; every schema is dropped at the end.
import { postgresSchemas } from '@gantry/plugin-database/testing';
import { oauthSuite } from './support/suite.js';

const pg = postgresSchemas('oauth');
after(() => pg.dropAll());

oauthSuite({
  driver: 'postgresql',
  fresh: async () => pg.fresh(),
});
