// Preloaded with `node --import` into a process under test: records the URL of every module the
// process resolves and writes them, one per line, to the file RESOLVE_LOG names when it exits.
import { writeFileSync } from 'node:fs';
import { recordResolvedUrls } from './resolved-urls.js';

const file = process.env.RESOLVE_LOG;
if (!file) throw new Error('resolve-log: set RESOLVE_LOG to the file to write');
const urls = recordResolvedUrls();
process.on('exit', () => writeFileSync(file, [...urls].join('\n')));
