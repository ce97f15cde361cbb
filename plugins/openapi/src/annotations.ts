import { createHash } from 'node:crypto';
import { globSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, Module } from 'node:module';
import path from 'node:path';
import { OpenapiErrors } from './errors.js';
import type { Json } from './generate.js';
import { deepMerge } from './merge.js';

const require = createRequire(import.meta.url);

/**
 * swagger-jsdoc with a do-nothing swagger-parser. swagger-jsdoc 6 calls swagger-parser's asynchronous
 * `parse(spec, callback)` from synchronous code and returns its result before the callback can run:
 * the parser never validates nor changes what it returns (Surnet/swagger-jsdoc#284, open). Loading it
 * (json-schema-ref-parser, ajv, the OpenAPI JSON schemas) cost ~70 ms and ~10 MB of RSS at every start
 * for nothing. So swagger-jsdoc, and only it, is handed a module whose `parse` does nothing: the stub
 * sits in the require cache while swagger-jsdoc loads (synchronously) and is taken out at once, so any
 * later `require('@apidevtools/swagger-parser')` gets the real one. Done only for the major version
 * whose behaviour this was checked on; `test/annotations.test.ts` compares the output with and without.
 */
function loadSwaggerJsdoc(): (options: object) => unknown {
  const entry = require.resolve('swagger-jsdoc');
  const cached = require.cache[entry];
  if (cached) return cached.exports as (options: object) => unknown;
  if (!swaggerJsdocVersion().startsWith('6.')) return require('swagger-jsdoc') as (options: object) => unknown;
  const scoped = createRequire(entry);
  const parserId = scoped.resolve('@apidevtools/swagger-parser');
  if (require.cache[parserId]) return require('swagger-jsdoc') as (options: object) => unknown;
  const stub = new Module(parserId);
  stub.filename = parserId;
  stub.loaded = true;
  stub.exports = { parse: (): void => undefined };
  require.cache[parserId] = stub;
  try {
    return require('swagger-jsdoc') as (options: object) => unknown;
  } finally {
    delete require.cache[parserId];
  }
}

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/** What merging annotations did: what it added and what it ignored (operations no route serves). */
export interface MergeReport {
  readonly files: number;
  readonly merged: number;
  readonly ignored: readonly string[];
}

/** Where a cache of what swagger-jsdoc read goes, and whether one is kept at all. */
export interface AnnotationsCacheOptions {
  /** Folder of the cache files; `false`: read with swagger-jsdoc on every start. */
  readonly dir: string | false;
  /** Told why a cache file was not used or not written (never fatal). */
  readonly onSkip?: (reason: string) => void;
}

/** What `readAnnotations` read, and whether it came from the cache. */
export interface AnnotationsRead {
  readonly annotations: Json;
  /** true: the cache held the same files, byte for byte, so swagger-jsdoc was not loaded. */
  readonly cached: boolean;
}

/** Bump when what is cached, or how it is read, changes. */
const CACHE_FORMAT = 1;
const DEFINITION = { openapi: '3.1.1', info: { title: 'annotations', version: '0' } } as const;

interface CacheEntry {
  readonly format: number;
  readonly swaggerJsdoc: string;
  readonly patterns: readonly string[];
  readonly files: readonly { readonly path: string; readonly sha256: string }[];
  readonly annotations: Json;
}

/**
 * Reads the `@openapi` JSDoc blocks of the files matched by `globs` (relative to `appDir`) with
 * swagger-jsdoc. Throws GANTRY_OPENAPI_ANNOTATIONS_INVALID when a block is not valid YAML.
 *
 * With a cache folder, the result is kept in a file there, beside the list of the files read and a
 * SHA-256 of each: a later call whose globs match the same files with the same bytes (and the same
 * swagger-jsdoc version) takes the result from it without loading swagger-jsdoc, glob, doctrine and
 * the YAML parser (30–60 ms of a start, and their heap). Anything else (a file added, removed or
 * changed, another version, an unreadable or malformed cache file) reads again and rewrites it.
 * Files are listed with Node's `fs.globSync` (stable from Node 22.17; older Nodes do not cache); an
 * entry is written only when that list is the very list swagger-jsdoc's `glob` gave and no file
 * changed while swagger-jsdoc read it, so the cache can only ever answer what swagger-jsdoc would.
 */
export async function readAnnotations(
  globs: readonly string[],
  appDir: string,
  cache: AnnotationsCacheOptions = { dir: false },
): Promise<AnnotationsRead> {
  if (globs.length === 0) return { annotations: {}, cached: false };
  const patterns = globs.map((g) => (path.isAbsolute(g) ? g : path.join(appDir, g)));
  const cacheFile = cache.dir !== false && globSyncIsStable() ? cachePath(cache.dir, patterns) : undefined;
  const skip = (reason: string): void => cache.onSkip?.(reason);
  let before: CacheEntry['files'] | undefined;
  if (cacheFile) {
    try {
      before = fingerprint(patterns);
      const hit = readEntry(cacheFile, patterns, before);
      if (hit) return { annotations: hit, cached: true };
    } catch (err) {
      skip(`the files of "apis" cannot be fingerprinted for the cache: ${(err as Error).message}`);
    }
  }
  // Loaded only when annotations are read: swagger-jsdoc brings glob, doctrine and a YAML parser.
  const swaggerJsdoc = loadSwaggerJsdoc();
  let annotations: Json;
  try {
    annotations = swaggerJsdoc({ definition: DEFINITION, apis: patterns, failOnErrors: true }) as Json;
  } catch (err) {
    throw OpenapiErrors.ANNOTATIONS_INVALID(
      `the @openapi annotations of ${globs.join(', ')} cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (cacheFile && before) writeEntry(cacheFile, patterns, before, annotations, skip);
  return { annotations, cached: false };
}

/** `fs.globSync` without an ExperimentalWarning: Node 22.17+ (and every 24). */
function globSyncIsStable(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return typeof globSync === 'function' && (major > 22 || (major === 22 && minor >= 17));
}

function swaggerJsdocVersion(): string {
  return (require('swagger-jsdoc/package.json') as { version: string }).version;
}

/** One cache file per set of patterns (an application may be started from several folders). */
function cachePath(dir: string, patterns: readonly string[]): string {
  const key = createHash('sha256').update(JSON.stringify(patterns)).digest('hex').slice(0, 32);
  return path.join(dir, `annotations-${key}.json`);
}

/**
 * The files the patterns match (sorted, de-duplicated) and the SHA-256 of each one's bytes. Node's
 * glob never enters a symbolic link to a folder where swagger-jsdoc's glob does, so a link found
 * under a pattern's fixed part (before its first wildcard) means this list may not be the one
 * swagger-jsdoc reads: that throws, and nothing is cached or taken from the cache.
 */
function fingerprint(patterns: readonly string[]): CacheEntry['files'] {
  for (const pattern of patterns) {
    const link = globSync(`${fixedPart(pattern)}/**`, { withFileTypes: true }).find((d) => d.isSymbolicLink());
    if (link) throw new Error(`${path.join(link.parentPath, link.name)} is a symbolic link`);
  }
  const files = new Set<string>();
  for (const pattern of patterns) for (const file of globSync(pattern)) files.add(path.resolve(file));
  return [...files].sort().map((file) => ({
    path: file,
    sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
  }));
}

/** The folder a pattern starts from: its segments before the first one with a wildcard. */
function fixedPart(pattern: string): string {
  const segments = pattern.split('/');
  const first = segments.findIndex((segment) => /[*?[\]{}()!+@]/.test(segment));
  const fixed = segments.slice(0, first === -1 ? -1 : first).join('/');
  return fixed === '' ? (pattern.startsWith('/') ? '/' : '.') : fixed;
}

function sameFiles(a: CacheEntry['files'], b: CacheEntry['files']): boolean {
  return a.length === b.length && a.every((f, i) => f.path === b[i]!.path && f.sha256 === b[i]!.sha256);
}

function readEntry(file: string, patterns: readonly string[], files: CacheEntry['files']): Json | undefined {
  let entry: Partial<CacheEntry>;
  try {
    entry = JSON.parse(readFileSync(file, 'utf8')) as Partial<CacheEntry>;
  } catch {
    return undefined; // absent or unreadable: read again
  }
  if (
    entry?.format !== CACHE_FORMAT ||
    entry.swaggerJsdoc !== swaggerJsdocVersion() ||
    JSON.stringify(entry.patterns) !== JSON.stringify(patterns) ||
    !Array.isArray(entry.files) ||
    !sameFiles(entry.files, files) ||
    !entry.annotations ||
    typeof entry.annotations !== 'object' ||
    Array.isArray(entry.annotations)
  )
    return undefined;
  return entry.annotations;
}

function writeEntry(
  file: string,
  patterns: readonly string[],
  before: CacheEntry['files'],
  annotations: Json,
  skip: (reason: string) => void,
): void {
  try {
    // The files swagger-jsdoc read are the ones its own glob matched: cache only when that is our list.
    const glob = createRequire(require.resolve('swagger-jsdoc'))('glob') as { sync(pattern: string): string[] };
    const theirs = [...new Set(patterns.flatMap((p) => glob.sync(p)).map((f) => path.resolve(f)))].sort();
    if (JSON.stringify(theirs) !== JSON.stringify(before.map((f) => f.path))) {
      skip('fs.globSync and swagger-jsdoc\'s glob match different files for "apis": not cached');
      return;
    }
    if (!sameFiles(fingerprint(patterns), before)) {
      skip('a file of "apis" changed while it was read: not cached');
      return;
    }
    const entry: CacheEntry = {
      format: CACHE_FORMAT,
      swaggerJsdoc: swaggerJsdocVersion(),
      patterns,
      files: before,
      annotations,
    };
    mkdirSync(path.dirname(file), { recursive: true });
    // Written beside and renamed over: a reader sees the old file or the new one, never half of one.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, file);
  } catch (err) {
    try {
      rmSync(`${file}.${process.pid}.tmp`, { force: true });
    } catch {
      // the folder itself is not there or not a folder: nothing was left behind
    }
    skip(`the annotations cache cannot be written: ${(err as Error).message}`);
  }
}

/**
 * Merges annotations into the generated document: they add prose, examples, tags and extra
 * responses, and never remove or change a generated fact (a schema, a status, a security
 * requirement); only prose keys replace generated prose. Operations no route serves are ignored and
 * reported: the document lists exactly the routes.
 */
export function mergeAnnotations(document: Json, annotations: Json): MergeReport {
  const ignored: string[] = [];
  let merged = 0;
  const docPaths = document.paths as Record<string, Record<string, Json>>;
  for (const [p, item] of Object.entries((annotations.paths as Record<string, Record<string, Json>>) ?? {})) {
    for (const [method, op] of Object.entries(item ?? {})) {
      if (!METHODS.has(method)) continue;
      const target = docPaths[p]?.[method];
      if (!target) {
        ignored.push(`${method.toUpperCase()} ${p}`);
        continue;
      }
      deepMerge(target, op);
      merged++;
    }
  }
  const components = annotations.components as Record<string, Json> | undefined;
  if (components) {
    const docComponents = (document.components ??= {}) as Record<string, Json>;
    for (const [kind, entries] of Object.entries(components)) {
      const into = (docComponents[kind] ??= {}) as Json;
      for (const [name, value] of Object.entries(entries ?? {})) if (!(name in into)) into[name] = value;
    }
  }
  const tags = annotations.tags as { name: string }[] | undefined;
  if (tags?.length) {
    const docTags = (document.tags ??= []) as Json[];
    for (const tag of tags) {
      const found = docTags.find((t) => t.name === tag.name);
      if (found) deepMerge(found, tag as unknown as Json);
      else docTags.push(tag as unknown as Json);
    }
  }
  return { files: 0, merged, ignored };
}
