import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isPlugin, type Plugin } from './plugin.js';

/** How a config key was turned into a plugin. */
export interface ResolvedPlugin {
  readonly specifier: string;
  readonly plugin: Plugin;
  readonly from: string;
}

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
export async function resolvePlugin(specifier: string, appDir: string, preloaded?: ReadonlyMap<string, Plugin>, fallbackDir?: string): Promise<ResolveResult> {
  const pre = preloaded?.get(specifier);
  if (pre) return { ok: true, value: { specifier, plugin: pre, from: 'preloaded' } };
  if (isPathSpecifier(specifier)) {
    const file = path.resolve(appDir, specifier);
    const entry = resolveFileEntry(file);
    if (!entry) return { ok: false, problem: `plugin "${specifier}": no file at ${file} (tried .js, .mjs, /index.js). Fix: check the path, relative to the config file's folder, and build the plugin first` };
    return loadFrom(specifier, entry);
  }
  const tried: string[] = [];
  for (const candidate of candidatesFor(specifier)) {
    tried.push(candidate);
    // From the config file's folder first, then the app's (a GANTRY_CONFIG file may live elsewhere).
    const entry = resolvePackageEntry(candidate, appDir) ?? (fallbackDir ? resolvePackageEntry(candidate, fallbackDir) : undefined);
    if (entry) return loadFrom(specifier, entry);
  }
  return {
    ok: false,
    problem: `plugin "${specifier}": cannot find package ${tried.join(' or ')} from ${appDir}. Fix: npm install ${tried[0]}, or correct the name in the config file`,
  };
}

async function loadFrom(specifier: string, entry: string): Promise<ResolveResult> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  } catch (err) {
    return { ok: false, problem: `plugin "${specifier}": importing ${entry} failed: ${(err as Error).message}` };
  }
  if (isPlugin(mod.plugin)) return { ok: true, value: { specifier, plugin: mod.plugin, from: entry } };
  const found = Object.values(mod).filter(isPlugin);
  if (found.length === 1) return { ok: true, value: { specifier, plugin: found[0]!, from: entry } };
  return {
    ok: false,
    problem: found.length === 0
      ? `plugin "${specifier}": ${entry} exports no plugin. Fix: export the definePlugin({...}) value as "plugin"`
      : `plugin "${specifier}": ${entry} exports ${found.length} plugins and none is named "plugin". Fix: export the one to load as "plugin"`,
  };
}

function resolveFileEntry(file: string): string | undefined {
  for (const c of [file, `${file}.js`, `${file}.mjs`, path.join(file, 'index.js')]) {
    if (existsSync(c) && !c.endsWith(path.sep) && (c.endsWith('.js') || c.endsWith('.mjs') || c.endsWith('.cjs'))) return c;
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
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { exports?: unknown; main?: string; module?: string };
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
