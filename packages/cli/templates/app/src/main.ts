// The app's entry point: `node dist/main.js` serves; `node dist/main.js <command>` runs a plugin
// command without serving (e.g. `db:migrate`). The config is gantry.config.json in the app folder.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMain } from '@gantry/core';

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
await runMain({ appDir });
