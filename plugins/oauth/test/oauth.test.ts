// The end-to-end suite on SQLite in memory.
import { oauthSuite } from './support/suite.js';

oauthSuite({ driver: 'sqlite', fresh: async () => ({ dbName: ':memory:' }) });
