import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isPlugin, type Plugin } from './plugin.js';
import { closest, OFFICIAL_PLUGINS } from './suggest.js';

/** How a config key was turned into a plugin. */
export interface ResolvedPlugin {
  readonly specifier: string;
  readonly plugin: Plugin;
  readonly from: string;
}

/**
 * Module loaders by config key, for an application bundled into one file (esbuild, webpack, Rollup):
 * `{ http: () => import('@gantry/http'), './plugins/notes.js': () => import('./plugins/notes.js') }`.
 * A bundler sees each `import()` and puts the module in a chunk of its own; the kernel calls the
 * loader of an enabled key only, so a plugin the config does not enable is still never loaded.
 */
export type PluginLoaders = Readonly<Record<string, () => Promise<unknown>>>;

/** The outcome for one specifier: a plugin, or a problem with its fix. */
export type ResolveResult = { ok: true; value: ResolvedPlugin } | { ok: false; problem: string };

/** Packages a short name may refer to, in order: `@gantry/plugin-<name>`, then `@gantry/<name>` (built-ins such as `http`). */
export function candidatesFor(specifier: string): string[] {
  if (isPathSpecifier(specifier) || specifier.startsWith('@') || specifier.includes('/')) return [specifier];
  return [`@gantry/plugin-${specifier}`, `@gantry/${specifier}`, specifier];
}

function isPathSpecifier(s: string): boolean {
  return s.startsWith('./') || s.startsWith('../') || path.isAbsolute(s);
}

/**
 * Resolves a config key to a plugin: a local path (relative to the config file's folder), a full
 * npm name, or a short name. Packages are looked up from `appDir` (then `fallbackDir`) upwards
 * through `node_modules`, honouring `exports` (ESM-only packages included).
 */
export async function resolvePlugin(
  specifier: string,
  appDir: string,
  preloaded?: ReadonlyMap<string, Plugin>,
  fallbackDir?: string,
  loaders?: PluginLoaders,
): Promise<ResolveResult> {
  const pre = preloaded?.get(specifier);
  if (pre) return { ok: true, value: { specifier, plugin: pre, from: 'preloaded' } };
  const loader = loaders && Object.hasOwn(loaders, specifier) ? loaders[specifier] : undefined;
  if (loader) return loadFrom(specifier, `loader "${specifier}"`, loader);
  if (isPathSpecifier(specifier)) {
    const file = path.resolve(appDir, specifier);
    const entry = resolveFileEntry(file);
    if (!entry)
      return {
        ok: false,
        problem: `plugin "${specifier}": no file at ${file} (tried .js, .mjs, .ts, .mts, /index.js). Fix: check the path, relative to the config file's folder`,
      };
    return loadFrom(specifier, entry, () => import(pathToFileURL(entry).href));
  }
  const tried: string[] = [];
  for (const candidate of candidatesFor(specifier)) {
    tried.push(candidate);
    // From the config file's folder first, then the app's (a GANTRY_CONFIG file may live elsewhere).
    const entry =
      resolvePackageEntry(candidate, appDir) ?? (fallbackDir ? resolvePackageEntry(candidate, fallbackDir) : undefined);
    if (entry) return loadFrom(specifier, entry, () => import(pathToFileURL(entry).href));
  }
  return { ok: false, problem: notFound(specifier, tried, [appDir, ...(fallbackDir ? [fallbackDir] : [])]) };
}

/**
 * Why a plugin name found no package, and the fix. A name close to a known one is a typo: the fix
 * renames the key, never "npm install" of a package that exists only because of the typo.
 */
function notFound(specifier: string, tried: readonly string[], dirs: readonly string[]): string {
  const where = `cannot find package ${tried.join(' or ')} from ${dirs[0]}`;
  const isShort = tried.length > 1;
  const known = isShort ? [...OFFICIAL_PLUGINS, ...installedShortNames(dirs)] : installedPackageNames(dirs);
  if (isShort && OFFICIAL_PLUGINS.includes(specifier))
    return `plugin "${specifier}": ${where}. Fix: npm install ${tried[specifier === 'http' ? 1 : 0]}`;
  const typo = closest(specifier, known);
  if (typo !== undefined)
    return `plugin "${specifier}": ${where} (did you mean "${typo}"?). Fix: rename the key "${specifier}" to "${typo}" in the config file`;
  if (!isShort)
    return `plugin "${specifier}": ${where}. Fix: npm install ${specifier}, or correct the name in the config file`;
  return `plugin "${specifier}": ${where}, and no Gantry plugin has this name. Fix: correct the name (a short name stands for @gantry/plugin-<name>), use the plugin's full npm name, or a path such as "./plugins/${specifier}.js"`;
}

/** Short names of the Gantry plugins installed where the app looks (`@gantry/plugin-<name>`). */
function installedShortNames(dirs: readonly string[]): string[] {
  return installedPackageNames(dirs)
    .filter((n) => n.startsWith('@gantry/plugin-'))
    .map((n) => n.slice('@gantry/plugin-'.length));
}

/** Names of the packages in the `node_modules` folders above each dir (scoped ones included). */
function installedPackageNames(dirs: readonly string[]): string[] {
  const names = new Set<string>();
  for (const start of dirs) {
    for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
      const nm = path.join(dir, 'node_modules');
      for (const entry of safeReaddir(nm)) {
        if (entry.startsWith('.')) continue;
        if (entry.startsWith('@')) for (const sub of safeReaddir(path.join(nm, entry))) names.add(`${entry}/${sub}`);
        else names.add(entry);
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  return [...names];
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function loadFrom(specifier: string, entry: string, load: () => Promise<unknown>): Promise<ResolveResult> {
  let mod: Record<string, unknown>;
  try {
    const loaded = await load();
    if (!loaded || typeof loaded !== 'object')
      return {
        ok: false,
        problem: `plugin "${specifier}": ${entry} gave ${loaded === null ? 'null' : typeof loaded}, not a module. Fix: the loader must return the module, e.g. () => import('${specifier}')`,
      };
    mod = loaded as Record<string, unknown>;
  } catch (err) {
    return { ok: false, problem: `plugin "${specifier}": importing ${entry} failed: ${(err as Error).message}` };
  }
  if (isPlugin(mod.plugin)) return { ok: true, value: { specifier, plugin: mod.plugin, from: entry } };
  const found = Object.values(mod).filter(isPlugin);
  if (found.length === 1) return { ok: true, value: { specifier, plugin: found[0]!, from: entry } };
  return {
    ok: false,
    problem:
      found.length === 0
        ? `plugin "${specifier}": ${entry} exports no plugin. Fix: export the definePlugin({...}) value as "plugin"`
        : `plugin "${specifier}": ${entry} exports ${found.length} plugins and none is named "plugin". Fix: export the one to load as "plugin"`,
  };
}

function resolveFileEntry(file: string): string | undefined {
  // TypeScript files load through Node's type stripping, as gantry.config.ts does.
  for (const c of [
    file,
    `${file}.js`,
    `${file}.mjs`,
    `${file}.ts`,
    `${file}.mts`,
    path.join(file, 'index.js'),
    path.join(file, 'index.ts'),
  ]) {
    if (existsSync(c) && !c.endsWith(path.sep) && /\.(c|m)?(js|ts)$/.test(c)) return c;
  }
  const pkg = path.join(file, 'package.json');
  if (existsSync(pkg)) return entryOfPackage(file);
  return undefined;
}

function resolvePackageEntry(name: string, fromDir: string): string | undefined {
  let dir = path.resolve(fromDir);
  for (;;) {
    const pkgDir = path.join(dir, 'node_modules', name);
    if (existsSync(path.join(pkgDir, 'package.json'))) return entryOfPackage(pkgDir);
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function entryOfPackage(pkgDir: string): string | undefined {
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
    exports?: unknown;
    main?: string;
    module?: string;
  };
  const target = pickExport(pkg.exports) ?? pkg.module ?? pkg.main ?? 'index.js';
  const file = path.join(pkgDir, target);
  return existsSync(file) ? file : undefined;
}

function pickExport(exp: unknown): string | undefined {
  if (typeof exp === 'string') return exp;
  if (!exp || typeof exp !== 'object') return undefined;
  const obj = exp as Record<string, unknown>;
  if ('.' in obj) return pickExport(obj['.']);
  for (const cond of ['import', 'node', 'default']) {
    if (cond in obj) {
      const r = pickExport(obj[cond]);
      if (r) return r;
    }
  }
  return undefined;
}
