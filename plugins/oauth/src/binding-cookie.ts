import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';

/**
 * The cookie that binds a started sign-in to the browser that started it. The `__Host-` prefix makes
 * browsers insist on Secure, Path=/ and no Domain, so a sibling subdomain cannot plant one; HttpOnly
 * keeps it from scripts; SameSite=Lax still sends it on the provider's top-level redirect back.
 */
export const BINDING_COOKIE = '__Host-gantry.oauth';

/** 256-bit random values in base64url (43 characters): bindings and states. */
export const RANDOM_VALUE = /^[A-Za-z0-9_-]{43}$/;

/** A new 256-bit random value in base64url: a browser binding or a state. */
export function newRandomValue(): string {
  return randomBytes(32).toString('base64url');
}

/** The binding cookie of the request, when present and well formed (the first one if several are sent). */
export function readBinding(headers: IncomingHttpHeaders): string | undefined {
  const header = headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== BINDING_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return RANDOM_VALUE.test(value) ? value : undefined;
  }
  return undefined;
}

const ATTRIBUTES = 'Path=/; Secure; HttpOnly; SameSite=Lax';

/** Set-Cookie value carrying the binding for `maxAgeSeconds`. */
export function bindingCookie(value: string, maxAgeSeconds: number): string {
  return `${BINDING_COOKIE}=${value}; Max-Age=${maxAgeSeconds}; ${ATTRIBUTES}`;
}

/** Set-Cookie value deleting the binding. */
export function clearedBindingCookie(): string {
  return `${BINDING_COOKIE}=; Max-Age=0; ${ATTRIBUTES}`;
}

/** Adds a Set-Cookie header, keeping those already set (sessions-redis sets its own on the same response). */
export function appendSetCookie(res: ServerResponse, cookie: string): void {
  const previous = res.getHeader('set-cookie');
  if (previous === undefined) res.setHeader('set-cookie', [cookie]);
  else res.setHeader('set-cookie', Array.isArray(previous) ? [...previous, cookie] : [String(previous), cookie]);
}
