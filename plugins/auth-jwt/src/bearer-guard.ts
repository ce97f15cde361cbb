import type { IncomingMessage, ServerResponse } from 'node:http';
import { acceptsCredential, currentContext, type HttpMiddleware, type Principal, type RouteInfo } from '@gantry/core';
import { AuthJwtErrors } from './errors.js';
import type { TokenService } from './token-service.js';

const SCHEME = /^Bearer(?: |$)/i;
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;
const CHALLENGE = { 'WWW-Authenticate': 'Bearer error="invalid_token"' } as const;

/** True when a route accepts a bearer token: `meta.auth` true or `'bearer'`, or a `meta.permission` (checked later by rbac). */
export function requiresBearer(route: RouteInfo): boolean {
  return acceptsCredential(route, 'bearer');
}

/**
 * The route hook: one shared middleware for every route that accepts bearer tokens (built once), none
 * for the others. A request with an `Authorization: Bearer` header is verified and gets its principal;
 * a request without one passes on (another authenticator, or the HTTP layer's 401, decides).
 */
export function bearerHook(tokens: () => TokenService): (route: RouteInfo) => HttpMiddleware | undefined {
  const guard: HttpMiddleware = function authJwtBearer(
    req: IncomingMessage,
    _res: ServerResponse,
    next: (err?: unknown) => void,
  ): void {
    const header = req.headers.authorization;
    if (header === undefined) {
      next();
      return;
    }
    const match = BEARER.exec(header);
    if (!match) {
      // Any other Authorization header on a protected route is refused, never ignored.
      next(
        SCHEME.test(header)
          ? AuthJwtErrors.INVALID_TOKEN('the bearer token is malformed', { headers: CHALLENGE })
          : AuthJwtErrors.MISSING_TOKEN('only "Authorization: Bearer <access token>" is accepted', {
              headers: CHALLENGE,
            }),
      );
      return;
    }
    tokens()
      .verifyAccess(match[1]!)
      .then((claims) => {
        const ctx = currentContext();
        if (ctx) {
          const principal: Principal = {
            id: claims.sub,
            kind: 'user',
            via: 'bearer',
            roles: Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [],
            sessionId: claims.fid,
            tokenId: claims.jti,
            claims,
          };
          ctx.principal = principal;
        }
        next();
      }, next);
  };
  return (route) => (requiresBearer(route) ? guard : undefined);
}
