/** A word that makes a key secret wherever it stands in it (`password`, `refresh_token`, `X-Api-Secret`). */
const SECRET_WORDS = new Set([
  'pass',
  'passwd',
  'password',
  'passphrase',
  'pwd',
  'token',
  'tokens',
  'jwt',
  'secret',
  'secrets',
  'cookie',
  'cookies',
  'authorization',
  'credential',
  'credentials',
  'otp',
  'totp',
  'hotp',
  'sid',
  'apikey',
]);
/** Words that make the key secret with the word `code` (`resetCode`, `recovery_code`) or `key` (`apiKey`, `privateKey`). */
const CODE_WORDS = new Set([
  'otp',
  'totp',
  'mfa',
  'recovery',
  'reset',
  'verification',
  'verify',
  'auth',
  'authorization',
  'oauth',
  'login',
  'backup',
  'one',
  'access',
  'confirmation',
]);
const KEY_WORDS = new Set(['api', 'private', 'secret', 'encryption', 'signing', 'access', 'session', 'master']);

/** A key split into lower-case words: camelCase, snake_case, kebab-case, dotted and spaced alike. */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/**
 * Whether a detail key names a value never stored: a password, token, secret, cookie, credential,
 * one-time code, session id or key. Judged by whole words, so `statusCode`, `passive` or
 * `sessionCount` are kept while `code`, `resetCode`, `sessionId`, `session` and `apiKey` are not.
 */
export function isSecretKey(key: string): boolean {
  const list = words(key);
  if (list.some((w) => SECRET_WORDS.has(w))) return true;
  const has = (w: string): boolean => list.includes(w);
  // A bare `code` is an OAuth authorization code or a one-time code until proven otherwise.
  if (has('code') && (list.length === 1 || list.some((w) => CODE_WORDS.has(w)))) return true;
  if ((has('key') || has('keys')) && (list.length === 1 || list.some((w) => KEY_WORDS.has(w)))) return true;
  // A session's id is a bearer credential; a count or kind of sessions is not.
  if (has('session') || has('sessions'))
    return list.length === 1 || list.some((w) => w === 'id' || w === 'ids' || w === 'value');
  return false;
}

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
 * A copy of `details` that is safe to store: keys {@link isSecretKey} names are dropped at every
 * depth, strings (keys too) are cleaned with {@link cleanString}, dates become ISO strings, and
 * functions, symbols and undefined are dropped. Returns undefined when nothing is left.
 */
export function sanitizeDetails(
  details: Readonly<Record<string, unknown>> | undefined,
  options: SanitizeOptions,
): Record<string, unknown> | undefined {
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
    if (isSecretKey(key)) continue;
    const clean = sanitizeValue(v, depth + 1, options);
    if (clean !== undefined) out[cleanString(key, options.maxStringLength)] = clean;
  }
  return out;
}
