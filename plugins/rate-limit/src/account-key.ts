import { createHash } from 'node:crypto';

/**
 * The counter key of an account name: trimmed, NFKC-normalised, lower-cased, then SHA-256 (base64url),
 * so `Alice@Example.com ` and `alice@example.com` share one counter and Redis holds no address in clear.
 * Undefined when the value is not a non-empty string.
 */
export function accountKey(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const normalised = value.normalize('NFKC').trim().toLowerCase();
  if (normalised === '') return undefined;
  return createHash('sha256').update(normalised).digest('base64url');
}

/**
 * The counter key of the account named by a top-level field of a request body the HTTP layer has
 * already parsed (`req.body`). Undefined (count by IP only) when there is no parsed JSON object body
 * or the field is missing or not a non-empty string.
 */
export function accountKeyOf(body: unknown, field: string): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !Object.hasOwn(body, field)) return undefined;
  return accountKey((body as Record<string, unknown>)[field]);
}
