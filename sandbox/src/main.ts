// The sandbox's entry point: `node dist/src/main.js` serves; `node dist/src/main.js db:migrate` runs a
// command. `node ../scripts/bundle.mjs` makes dist/bundle/main.js of it, which `npm start` runs.
import module from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Node's on-disk compile cache (V8 code cache under os.tmpdir()/node-compile-cache, or
// NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off): from the second start on, the
// kernel and the plugins it imports skip most of their parsing and compiling. Enabled before the
// kernel is imported so that it covers every module but this one.
module.enableCompileCache?.();
const [{ runMain }, { pluginLoaders }] = await Promise.all([import('@gantry/core'), import('./plugins.js')]);

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
await runMain({ appDir, pluginLoaders });
