// The shared suite on SQLite: each database a file of its own in a temporary folder (two kernels of a
// test can share one), removed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rbacSuite } from './support/suite.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-rbac-'));
let n = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

rbacSuite({
  driver: 'sqlite',
  fresh: async () => ({ driver: 'sqlite', dbName: path.join(dir, `rbac-${++n}.sqlite`) }),
});
