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
  const version = (require('swagger-jsdoc/package.json') as { version: string }).version;
  if (!version.startsWith('6.')) return require('swagger-jsdoc') as (options: object) => unknown;
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

/**
 * Reads the `@openapi` JSDoc blocks of the files matched by `globs` (relative to `appDir`) with
 * swagger-jsdoc. Throws GANTRY_OPENAPI_ANNOTATIONS_INVALID when a block is not valid YAML.
 */
export async function readAnnotations(globs: readonly string[], appDir: string): Promise<Json> {
  if (globs.length === 0) return {};
  // Loaded only when annotations are configured: swagger-jsdoc brings glob, doctrine and a YAML parser.
  const swaggerJsdoc = loadSwaggerJsdoc();
  try {
    return swaggerJsdoc({
      definition: { openapi: '3.1.1', info: { title: 'annotations', version: '0' } },
      apis: globs.map((g) => (path.isAbsolute(g) ? g : path.join(appDir, g))),
      failOnErrors: true,
    }) as Json;
  } catch (err) {
    throw OpenapiErrors.ANNOTATIONS_INVALID(
      `the @openapi annotations of ${globs.join(', ')} cannot be read: ${(err as Error).message}`,
      { cause: err },
    );
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
