// The sandbox's entry point: `node dist/src/main.js` serves; `node dist/src/main.js db:migrate` runs a command.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain } from '@gantry/core';

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
await runMain({ appDir });
