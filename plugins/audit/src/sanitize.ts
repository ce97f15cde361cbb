/** Keys whose values are never stored: passwords, tokens, secrets, session ids, cookies, credentials, one-time codes. */
export const SECRET_KEY = /pass(word)?|token|secret|session|cookie|authorization|otp|code/i;

/** Stands for a value cut because it was nested deeper than `maxDepth`. */
export const TRUNCATED = '[truncated]';

// C0 and C1 controls, DEL, and the Unicode line/paragraph separators: anything that could end a log
// line (or look like it did) in a terminal, a text log or a JSON-lines viewer.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Readonly<Record<string, string>> = { '\r': '\\r', '\n': '\\n', '\t': '\\t' };

/** How strings and details are cleaned. */
export interface SanitizeOptions {
  readonly maxStringLength: number;
  readonly maxDepth: number;
}

/**
 * Escapes control characters (CR, LF and the rest become visible `\r`, `\n`, `\u001b`...) so a value
 * can never start a new log line or forge an entry, then cuts it to `max` characters.
 */
export function cleanString(value: string, max: number): string {
  const escaped = value.replace(CONTROL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped;
}

/**
 * A copy of `details` that is safe to store: keys matching {@link SECRET_KEY} are dropped at every
 * depth, strings (keys too) are cleaned with {@link cleanString}, dates become ISO strings, and
 * functions, symbols and undefined are dropped. Returns undefined when nothing is left.
 */
export function sanitizeDetails(details: Readonly<Record<string, unknown>> | undefined, options: SanitizeOptions): Record<string, unknown> | undefined {
  if (details === undefined || details === null || typeof details !== 'object') return undefined;
  const out = sanitizeValue(details, 1, options) as Record<string, unknown> | undefined;
  return out && Object.keys(out).length > 0 ? out : undefined;
}

function sanitizeValue(value: unknown, depth: number, options: SanitizeOptions): unknown {
  switch (typeof value) {
    case 'string':
      return cleanString(value, options.maxStringLength);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return undefined; // functions, symbols, undefined
  }
  if (value === null) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  // The depth limit also ends reference cycles.
  if (depth > options.maxDepth) return TRUNCATED;
  if (Array.isArray(value)) return value.map((v) => sanitizeValue(v, depth + 1, options) ?? null);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (SECRET_KEY.test(key)) continue;
    const clean = sanitizeValue(v, depth + 1, options);
    if (clean !== undefined) out[cleanString(key, options.maxStringLength)] = clean;
  }
  return out;
}
