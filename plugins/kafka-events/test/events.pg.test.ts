import { postgresSchemas } from '@gantry/plugin-database/testing';
import { outboxSuite } from './support/outbox-suite.js';

const schemas = postgresSchemas('kafka-events');

outboxSuite({
  driver: 'postgresql',
  fresh: async () => schemas.fresh(),
  cleanup: () => schemas.dropAll(),
});
