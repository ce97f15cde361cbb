import { createRequire } from 'node:module';
import { OpenapiErrors } from './errors.js';
import type { Json } from './generate.js';

// The YAML form is written on its first request (the yaml package included): most clients read JSON.
const require = createRequire(import.meta.url);

/** The built document, as an object and in both serialized forms (built once: JSON at start, YAML on first use). */
export interface OpenapiDocuments {
  /** The OpenAPI 3.1 document (do not mutate it). Throws GANTRY_OPENAPI_NOT_BUILT before start. */
  document(): Json;
  /** The document as JSON text, as served at /openapi.json. */
  json(): string;
  /** The document as YAML text, as served at /openapi.yaml. */
  yaml(): string;
  /** What zod could not represent in JSON Schema (emitted as "any"), as `<method> <path> <part>`. */
  unrepresentable(): readonly string[];
}

/** Holds the document once built; every request is served from these strings. */
export class DocumentStore implements OpenapiDocuments {
  private state: { document: Json; json: string; yaml?: string; unrepresentable: readonly string[] } | undefined;

  /** Stores the document and serializes it (once). */
  set(document: Json, unrepresentable: readonly string[]): void {
    this.state = {
      document: deepFreeze(document),
      json: JSON.stringify(document),
      unrepresentable: Object.freeze([...unrepresentable]),
    };
  }

  document(): Json {
    return this.get().document;
  }

  json(): string {
    return this.get().json;
  }

  yaml(): string {
    const state = this.get();
    if (state.yaml === undefined) {
      const { stringify } = require('yaml') as typeof import('yaml');
      state.yaml = stringify(state.document, { aliasDuplicateObjects: false, lineWidth: 0 });
    }
    return state.yaml;
  }

  unrepresentable(): readonly string[] {
    return this.get().unrepresentable;
  }

  /** Counts of the built document, or undefined before start (for the readiness check). */
  counts(): { operations: number; unrepresentable: number } | undefined {
    if (!this.state) return undefined;
    const paths = Object.values(this.state.document.paths as Record<string, object>);
    return {
      operations: paths.reduce((n, item) => n + Object.keys(item).length, 0),
      unrepresentable: this.state.unrepresentable.length,
    };
  }

  private get(): NonNullable<DocumentStore['state']> {
    if (!this.state) throw OpenapiErrors.NOT_BUILT('the OpenAPI document is built when the application starts');
    return this.state;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
