// Preloaded with `node --import` into a process under test: records the URL of every module the
// process resolves (ES imports and CommonJS requires alike, Node ≥ 23.5) and writes them, one per
// line, to the file RESOLVE_LOG names when the process exits.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const file = process.env.RESOLVE_LOG;
if (!file) throw new Error('resolve-log: set RESOLVE_LOG to the file to write');
const urls = new Set<string>();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    urls.add(result.url);
    return result;
  },
});
process.on('exit', () => writeFileSync(file, [...urls].join('\n')));
