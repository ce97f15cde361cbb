// The shared suite on the real PostgreSQL (127.0.0.1:5432, database "test"), each database a schema of
// its own with a random name; every schema is dropped at the end.
import { postgresSchemas } from '@gantry/plugin-database/testing';
import { rbacSuite } from './support/suite.js';

const pg = postgresSchemas('rbac');
after(() => pg.dropAll());

rbacSuite({ driver: 'postgresql', fresh: async () => pg.fresh() });
