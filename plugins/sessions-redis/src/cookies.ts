import type { ServerResponse } from 'node:http';

/** Attributes shared by the session and CSRF cookies: `__Host-` cookies must be Secure, Path=/ and carry no Domain. */
export interface CookieAttributes {
  readonly sameSite: 'lax' | 'strict';
}

/**
 * The value of cookie `name` in a Cookie header, or undefined. The first occurrence wins; values are
 * never decoded (ours are base64url or hex, which need no decoding).
 */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  let from = 0;
  while (from < header.length) {
    const at = header.indexOf(name, from);
    if (at === -1) return undefined;
    const end = at + name.length;
    // A match must start a pair ("a=1; name=...") and be followed by "=", not be a suffix or prefix of another name.
    const starts = at === 0 || header[at - 1] === ' ' || header[at - 1] === ';';
    if (starts && header[end] === '=') {
      const semi = header.indexOf(';', end + 1);
      return header.slice(end + 1, semi === -1 ? undefined : semi).trim();
    }
    from = end;
  }
  return undefined;
}

/** A Set-Cookie value for a browser-session cookie (no Max-Age: it ends when the browser's session does). */
export function serializeCookie(name: string, value: string, attributes: CookieAttributes): string {
  return `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=${attributes.sameSite === 'strict' ? 'Strict' : 'Lax'}`;
}

/** A Set-Cookie value that deletes the cookie. */
export function clearingCookie(name: string, attributes: CookieAttributes): string {
  return `${serializeCookie(name, '', attributes)}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}

/** Adds a Set-Cookie header, keeping those already set (by this plugin or any other). */
export function appendSetCookie(res: ServerResponse, cookie: string): void {
  const previous = res.getHeader('set-cookie');
  if (previous === undefined) res.setHeader('set-cookie', [cookie]);
  else res.setHeader('set-cookie', Array.isArray(previous) ? [...previous, cookie] : [String(previous), cookie]);
}
