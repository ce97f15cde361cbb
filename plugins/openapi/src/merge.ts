/** Keys whose value is prose: an annotation's value replaces the generated one. */
const PROSE = new Set(['summary', 'description', 'example', 'examples', 'externalDocs', 'x-codeSamples']);

type Json = Record<string, unknown>;

/** `__proto__`: JSON.parse and YAML parsers make it an own key; assigned, it would set a prototype. */
const UNSAFE_KEYS = new Set(['__proto__']);

/**
 * Merges `source` into `target`: new keys are added, objects merged, prose keys replaced, tags
 * appended; any other value already in `target` (a generated fact) stays as it is.
 */
export function deepMerge(target: Json, source: Json): void {
  for (const [key, value] of Object.entries(source)) {
    // Never merged into a prototype: `target.__proto__` is Object.prototype, and an inherited key
    // (`constructor`, `toString`) is not the document's.
    if (UNSAFE_KEYS.has(key)) continue;
    const current = Object.hasOwn(target, key) ? target[key] : undefined;
    if (PROSE.has(key) && (typeof value === 'string' || current === undefined || typeof current !== 'object')) {
      target[key] = value;
    } else if (current === undefined) {
      target[key] = value;
    } else if (isObject(current) && isObject(value)) {
      deepMerge(current, value);
    } else if (Array.isArray(current) && Array.isArray(value) && key === 'tags') {
      for (const v of value) if (!current.includes(v)) current.push(v);
    }
    // Anything else is a generated fact the annotation would change: the generated value stays.
  }
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
