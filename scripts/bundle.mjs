// Bundles a built Gantry application (its compiled entry, the plugins its `pluginLoaders` name and
// their dependencies) into a few minified ES modules with esbuild, so that a start reads one folder
// of chunks instead of resolving and compiling ~1 600 files. Each `import()` of a plugin becomes a
// chunk of its own, loaded only when the config enables that plugin.
//
//   node scripts/bundle.mjs [<entry.js> <outdir>]    default: sandbox/dist/src/main.js sandbox/dist/bundle
//
// The folder is emptied first; `meta.json` in it is esbuild's metafile (which module went into which
// chunk).
//
// The chunks are meant to run where they are built, beside the node_modules they came from: native
// addons (argon2, better-sqlite3) and what modules load with their own `require` at run time
// (kafkajs, nodemailer, swagger-jsdoc…) stay there. So that such
// code still finds its files, every `import.meta.url` / `import.meta.dirname` / `import.meta.filename`
// and CommonJS `__dirname` / `__filename` of a bundled module is rewritten to the module's own
// original location, expressed relative to the chunk (so the tree can move as a whole).
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { applyInsertions, shiftMappings, wrapperInsertions } from './eager-wrappers.mjs';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
if (args.length !== 0 && args.length !== 2) {
  process.stderr.write('usage: node scripts/bundle.mjs [<entry.js> <outdir>]\n');
  process.exit(2);
}
const [entry, out] =
  args.length === 2
    ? args.map((a) => path.resolve(a))
    : [path.join(root, 'sandbox/dist/src/main.js'), path.join(root, 'sandbox/dist/bundle')];
await rm(out, { recursive: true, force: true });

/** A bundled module's original file, as a path relative to the chunks' folder (POSIX separators). */
const relativeToChunks = (file) => path.relative(out, file).split(path.sep).join('/');

const META = /\bimport\.meta\.(url|dirname|filename)\b/g;
const CJS_PATHS = /\b__(dirname|filename)\b/;
const DECLARES_CJS_PATHS = /\b(?:var|let|const|function|class)\s+__(?:dirname|filename)\b/;
const USE_STRICT = /^(?:\s*(?:\/\/[^\n]*\n|\/\*[\s\S]*?\*\/))*\s*(['"])use strict\1;?/;

/** @type {import('esbuild').Plugin} */
const keepModulePaths = {
  name: 'gantry-keep-module-paths',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?js$/ }, async (args) => {
      let text = await readFile(args.path, 'utf8');
      const meta = META.test(text);
      META.lastIndex = 0;
      const cjsPaths = CJS_PATHS.test(text) && !DECLARES_CJS_PATHS.test(text);
      if (!meta && !cjsPaths) return undefined;
      const rel = JSON.stringify(relativeToChunks(args.path));
      if (meta)
        text = text.replace(META, (_, prop) =>
          prop === 'url' ? `__gantryUrl(${rel})` : prop === 'dirname' ? `__gantryDir(${rel})` : `__gantryFile(${rel})`,
        );
      if (cjsPaths) {
        // Declared inside the module (esbuild wraps a CommonJS module in a function), after a
        // "use strict" directive so that the module stays strict.
        const decl = `var __filename = __gantryFile(${rel}), __dirname = __gantryDir(${rel});\n`;
        const strict = USE_STRICT.exec(text);
        text = strict ? `${text.slice(0, strict[0].length)}\n${decl}${text.slice(strict[0].length)}` : `${decl}${text}`;
      }
      return { contents: text, loader: 'js' };
    });
  },
};

/**
 * `import … from 'node:http'` in an ES module makes Node build the builtin's ES facade, which reads
 * every export, and with them the lazy getters that load undici (fetch, WebSocket): ~25 ms and a few
 * MB at every start, for a process that may never call fetch. Bundled ES modules get node:http
 * through `require()` instead, which builds no facade (esbuild's interop reads the named exports
 * from it at use).
 */
const httpByRequire = {
  name: 'gantry-http-by-require',
  setup(b) {
    b.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      args.kind === 'import-statement' || args.kind === 'dynamic-import'
        ? { path: 'node:http', namespace: 'gantry-require' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'gantry-require' }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
  },
};

const started = Date.now();
const result = await build({
  entryPoints: [entry],
  outdir: out,
  // Module paths in meta.json are relative to the repository's root.
  absWorkingDir: root,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22.12',
  minify: true,
  // Class and function names stay: MikroORM names entities and tsyringe names tokens after them, and
  // error stacks stay readable.
  keepNames: true,
  sourcemap: 'linked',
  // Native addons load their binary relative to their own package; optional peers of ws and others
  // that are not installed stay runtime requires that fail as they would unbundled.
  external: ['argon2', 'better-sqlite3', 'bufferutil', 'utf-8-validate', 'pg-native'],
  // Each chunk gets Node's own require (for the externals and the CommonJS code that calls require
  // at run time) and the helpers the rewritten module paths use.
  banner: {
    js: [
      "import { createRequire as __gantryCreateRequire } from 'node:module';",
      "import { fileURLToPath as __gantryToPath } from 'node:url';",
      "import { dirname as __gantryDirname } from 'node:path';",
      'const require = __gantryCreateRequire(import.meta.url);',
      'const __gantryUrl = (rel) => new URL(rel, import.meta.url).href;',
      'const __gantryFile = (rel) => __gantryToPath(new URL(rel, import.meta.url));',
      'const __gantryDir = (rel) => __gantryDirname(__gantryFile(rel));',
    ].join(' '),
  },
  plugins: [keepModulePaths, httpByRequire],
  metafile: true,
  logLevel: 'warning',
  logOverride: {
    // CommonJS code that requires by a computed name (optional drivers, plugins by name) is kept as
    // a runtime require, which is what it does unbundled.
    'unsupported-require-call': 'silent',
    'unsupported-dynamic-import': 'silent',
  },
});
await writeFile(path.join(out, 'meta.json'), JSON.stringify(result.metafile));

// Module functions in parentheses, so that V8 compiles them with their chunk and Node's compile cache
// keeps them (scripts/eager-wrappers.mjs says why); each chunk's source map follows.
let wrapped = 0;
for (const file of Object.keys(result.metafile.outputs)) {
  if (!file.endsWith('.js')) continue;
  const chunk = path.join(root, file);
  const code = await readFile(chunk, 'utf8');
  const insertions = wrapperInsertions(code);
  if (insertions.length === 0) continue;
  wrapped += insertions.length / 2;
  const map = JSON.parse(await readFile(`${chunk}.map`, 'utf8'));
  map.mappings = shiftMappings(map.mappings, code, insertions);
  await writeFile(chunk, applyInsertions(code, insertions));
  await writeFile(`${chunk}.map`, JSON.stringify(map));
}
const inputs = Object.keys(result.metafile.inputs).length;
const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js'))
  .reduce((n, [, o]) => n + o.bytes, 0);
process.stdout.write(
  `bundle: ${inputs} modules → ${path.relative(process.cwd(), out)} (${(bytes / 1e6).toFixed(1)} MB of chunks, ${wrapped} module functions compiled eagerly) in ${Date.now() - started} ms\n`,
);
