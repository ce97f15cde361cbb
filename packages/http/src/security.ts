import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/** Options for the security headers. */
export interface SecurityHeaderOptions {
  readonly hsts: boolean;
}

/**
 * Helmet's headers with defaults for a JSON API (CSP `default-src 'none'`, no framing, no sniffing,
 * same-origin resource and opener policies, no referrer, HSTS), plus `Cache-Control: no-store`.
 * Helmet's headers that only matter for HTML documents in legacy browsers (X-XSS-Protection,
 * X-Download-Options for IE8, X-DNS-Prefetch-Control, Origin-Agent-Cluster, Flash's
 * X-Permitted-Cross-Domain-Policies) are left out: a JSON response protects nothing with them, and
 * every header is validated and written on every response.
 *
 * Helmet builds these header values once when the middleware is created (static directives only),
 * so we run it once at boot against a recording response and replay the result per request: same
 * headers as `app.use(helmet(...))`, without a dozen middleware calls per request.
 */
export function securityHeaders(options: SecurityHeaderOptions): ReadonlyArray<readonly [string, string]> {
  const middleware = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    xXssProtection: false,
    xDownloadOptions: false,
    xDnsPrefetchControl: false,
    originAgentCluster: false,
    xPermittedCrossDomainPolicies: false,
    strictTransportSecurity: options.hsts ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  });
  const recorded = new Map<string, string>();
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      recorded.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value));
      return res;
    },
    removeHeader(name: string) {
      recorded.delete(name.toLowerCase());
    },
    getHeader(name: string) {
      return recorded.get(name.toLowerCase());
    },
  };
  let passed = false;
  middleware(
    { headers: {}, method: 'GET', url: '/' } as IncomingMessage,
    res as unknown as ServerResponse,
    (err?: unknown) => {
      if (err) throw err;
      passed = true;
    },
  );
  if (!passed) throw new TypeError('helmet did not call next() while computing security headers');
  recorded.set('cache-control', 'no-store');
  return [...recorded];
}
