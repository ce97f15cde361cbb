import { GantryError } from '@gantry/core';
import { Masked } from './mask.js';

/** Lays rows out in columns separated by two spaces (the last column is not padded). */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat(widths[i]! - [...cell].length)))
      .join('  ')
      .trimEnd(),
  );
}

/** A value as shown in a table: JSON, cut to `max` characters. */
export function showValue(value: unknown, max = 80): string {
  const text =
    value instanceof Masked
      ? String(value)
      : value === undefined
        ? '(unset)'
        : (JSON.stringify(value) ?? String(value));
  return [...text].length > max ? `${[...text].slice(0, max - 1).join('')}…` : text;
}

/** Renders an error for a terminal: `[CODE] message`, the fix, and the causes. */
export function formatError(err: unknown): string {
  if (GantryError.is(err)) {
    const lines = [`[${err.code}] ${err.message}`];
    if (err.fix) lines.push(`Fix: ${err.fix}`);
    let cause = err.cause;
    while (cause instanceof Error) {
      lines.push(`caused by: ${GantryError.is(cause) ? `[${cause.code}] ` : ''}${cause.message}`);
      cause = cause.cause;
    }
    return lines.join('\n');
  }
  return err instanceof Error ? `unexpected error: ${err.stack ?? err.message}` : `unexpected error: ${String(err)}`;
}

/** Leaves of an options object, as the provenance map keys them: plain objects are walked, the rest are leaves. */
export function leaves(value: unknown, at: readonly string[] = []): [string[], unknown][] {
  if (isPlainObject(value) && Object.keys(value).length > 0)
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]));
  return at.length === 0 ? [] : [[[...at], value]];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
