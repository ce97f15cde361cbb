import type { IncomingMessage } from 'node:http';
import type { GantryError } from '@gantry/core';
import { SessionsErrors } from './errors.js';

/** Why an unsafe cookie request was refused before its CSRF token was even looked at. */
export type OriginRefusal = 'cross-site' | 'same-site' | 'origin';

/**
 * Fetch-Metadata and Origin checks of state-changing cookie-authenticated requests, decided from
 * headers only (no I/O):
 * - `Sec-Fetch-Site: cross-site` is refused; `same-site` too unless the Origin is in allowedOrigins;
 * - an `Origin` header that is neither the request's own host nor in allowedOrigins is refused
 *   (`Origin: null` included). The own host is compared without the scheme, since TLS usually ends
 *   at a proxy in front of the API; the `__Host-` cookie itself only travels over HTTPS.
 * Requests without these headers (non-browser clients, old browsers) go on to the CSRF token check.
 */
export class OriginPolicy {
  private readonly allowed: ReadonlySet<string>;

  constructor(allowedOrigins: readonly string[]) {
    this.allowed = new Set(allowedOrigins.map((o) => new URL(o).origin));
  }

  /** The refusal of this request, or undefined when it may go on. */
  check(req: IncomingMessage): { readonly reason: OriginRefusal; readonly error: GantryError } | undefined {
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    const allowed = origin !== undefined && this.allowed.has(origin);
    if (site === 'cross-site' || (site === 'same-site' && !allowed)) {
      return {
        reason: site,
        error: SessionsErrors.CROSS_SITE_REQUEST(
          `a ${site} ${req.method} request carrying the session cookie was refused (Sec-Fetch-Site: ${site})`,
          { details: { secFetchSite: site } },
        ),
      };
    }
    if (origin !== undefined && !allowed && !isOwnHost(origin, req)) {
      return {
        reason: 'origin',
        error: SessionsErrors.ORIGIN_NOT_ALLOWED(
          `a ${req.method} request carrying the session cookie came from another origin`,
          { details: { origin: origin.slice(0, 200) } },
        ),
      };
    }
    return undefined;
  }
}

/** True when `origin`'s host[:port] is the host the request was sent to (express's `req.host` honours trust proxy). */
function isOwnHost(origin: string, req: IncomingMessage): boolean {
  const at = origin.indexOf('://');
  if (at === -1) return false;
  const expressHost = (req as { host?: unknown }).host;
  const host = typeof expressHost === 'string' ? expressHost : req.headers.host;
  return host !== undefined && origin.slice(at + 3).toLowerCase() === host.toLowerCase();
}
