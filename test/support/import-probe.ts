// Boots a kernel with the plugins of a config given as JSON in argv[2] (appDir argv[3]), starts it
// without serving (with its serve-phase hooks too when argv[4] is "serve"), stops it, and prints every module URL the process resolved (one JSON array on
// stdout). Run in a process of its own by the lazy-import tests: a fresh module graph, no test's
// imports mixed in.
import { recordResolvedUrls } from './resolved-urls.js';

// CommonJS requires (createRequire) go through the same hooks in Node ≥ 23.5; these are read too.
const urls = recordResolvedUrls();
const { createKernel, silentLogger } = await import('@gantry/core');
const config = JSON.parse(process.argv[2]!) as Parameters<typeof createKernel>[0] extends infer O
  ? NonNullable<O> extends { config?: infer C }
    ? NonNullable<C>
    : never
  : never;
const kernel = await createKernel({ appDir: process.argv[3]!, config, logger: silentLogger(), env: {} });
await kernel.start({ serve: process.argv[4] === 'serve' });
await kernel.stop();
const { createRequire } = await import('node:module');
const cache = createRequire(import.meta.url).cache;
for (const file of Object.keys(cache)) urls.add(`file://${file}`);
process.stdout.write(JSON.stringify([...urls]));
