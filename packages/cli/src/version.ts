import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Root of this package (holds package.json and templates/), from dist/src or src. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** This CLI's version, from its package.json. */
export const CLI_VERSION: string = (
  JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

/** Folder of the templates `gantry new` copies. */
export const TEMPLATES_DIR = path.join(PACKAGE_ROOT, 'templates');
