import { z } from 'zod';

/**
 * Control characters a single-line field cannot hold: C0 (tab included), DEL, C1, and the Unicode
 * line and paragraph separators.
 */
export const LINE_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Control characters multi-line text cannot hold: as {@link LINE_CONTROL}, but tab, LF and CR are allowed. */
export const TEXT_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** Bounds of a {@link line} or {@link text} schema. */
export interface TextBounds {
  /** Fewest characters (UTF-16 code units, as zod counts); default 0. */
  readonly min?: number;
  /** Most characters (UTF-16 code units). Required: storage always has a bound. */
  readonly max: number;
  /** Trim surrounding whitespace before the length checks (default false). */
  readonly trim?: boolean;
}

function bounded(pattern: RegExp, what: string, bounds: TextBounds) {
  let s = z.string();
  if (bounds.trim) s = s.trim();
  if (bounds.min !== undefined && bounds.min > 0) s = s.min(bounds.min);
  return s
    .max(bounds.max)
    .refine((v) => v.isWellFormed(), { message: 'must be well-formed Unicode (no lone surrogate)', abort: true })
    .refine((v) => !pattern.test(v), `must not contain control characters${what}`);
}

/**
 * A single-line string that storage can hold: bounded, well-formed Unicode, no control characters
 * (no NUL, tab, line breaks, DEL, C1, U+2028/U+2029). Titles, names, search filters, ids from users.
 */
export function line(bounds: TextBounds) {
  return bounded(LINE_CONTROL, '', bounds);
}

/** Multi-line text that storage can hold: as {@link line}, but tab, LF and CR are allowed. */
export function text(bounds: TextBounds) {
  return bounded(TEXT_CONTROL, ' other than tab and line breaks', bounds);
}

/** Where an unsafe string was found by {@link findUnsafeStrings}, and why. */
export interface UnsafeString {
  /** Path of the value (`title`, `tags.2`), or of the key when the key itself is unsafe. */
  readonly field: string;
  readonly reason: 'nul' | 'ill-formed';
}

/**
 * Strings no field can hold, anywhere in a parsed request input (values and keys, at any depth):
 * NUL (U+0000) and ill-formed UTF-16 (a lone surrogate, which every encoder turns into U+FFFD, so
 * two different inputs would be stored as the same). Stops after `limit` findings.
 */
export function findUnsafeStrings(value: unknown, limit = 10): UnsafeString[] {
  const out: UnsafeString[] = [];
  walk(value, '', out, limit, 0);
  return out;
}

/**
 * Whether {@link findUnsafeStrings} would find anything: the same walk without allocating (no key
 * lists, paths or findings), so the common input, with nothing to refuse, costs no garbage.
 */
export function hasUnsafeStrings(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return reasonOf(value) !== undefined;
  if (value === null || typeof value !== 'object' || depth > 256) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasUnsafeStrings(value[i], depth + 1)) return true;
    return false;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (reasonOf(key) !== undefined || hasUnsafeStrings((value as Record<string, unknown>)[key], depth + 1))
      return true;
  }
  return false;
}

function reasonOf(s: string): UnsafeString['reason'] | undefined {
  if (s.includes('\u0000')) return 'nul';
  if (!s.isWellFormed()) return 'ill-formed';
  return undefined;
}

function walk(value: unknown, path: string, out: UnsafeString[], limit: number, depth: number): void {
  if (out.length >= limit) return;
  if (typeof value === 'string') {
    const reason = reasonOf(value);
    if (reason) out.push({ field: path || '(root)', reason });
    return;
  }
  // Depth is bounded by the JSON parser's input size; this bound only keeps the walk off the stack's edge.
  if (value === null || typeof value !== 'object' || depth > 256) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && out.length < limit; i++)
      walk(value[i], path ? `${path}.${i}` : String(i), out, limit, depth + 1);
    return;
  }
  for (const key of Object.keys(value)) {
    if (out.length >= limit) return;
    const keyReason = reasonOf(key);
    if (keyReason) {
      // The key is reported escaped (\u0000, \ud800): it is echoed in problems and logs.
      const shown = JSON.stringify(key).slice(1, -1);
      out.push({ field: path ? `${path}.${shown}` : shown, reason: keyReason });
      continue;
    }
    walk((value as Record<string, unknown>)[key], path ? `${path}.${key}` : key, out, limit, depth + 1);
  }
}
