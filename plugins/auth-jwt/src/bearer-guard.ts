import type { IncomingMessage, ServerResponse } from 'node:http';
import { currentContext, type HttpMiddleware, type Principal, type RouteInfo } from '@gantry/core';
import { AuthJwtErrors } from './errors.js';
import type { TokenService } from './token-service.js';

const SCHEME = /^Bearer(?: |$)/i;
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;
const CHALLENGE = { 'WWW-Authenticate': 'Bearer error="invalid_token"' } as const;

/** True when a route asks for authentication: `meta.auth: 'bearer'` or a `meta.permission` (checked later by rbac). */
export function requiresBearer(route: RouteInfo): boolean {
  if (route.root || route.meta.public === true) return false;
  return route.meta.auth === 'bearer' || route.meta.permission !== undefined;
}

/**
 * The route hook: one shared middleware for every protected route (built once), none for the others.
 * It verifies the bearer token and sets the request's principal.
 */
export function bearerHook(tokens: () => TokenService): (route: RouteInfo) => HttpMiddleware | undefined {
  const guard: HttpMiddleware = function authJwtBearer(req: IncomingMessage, _res: ServerResponse, next: (err?: unknown) => void): void {
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? BEARER.exec(header) : null;
    if (!match) {
      // A Bearer credential that is not a token is invalid; no Bearer credential at all is missing.
      const bearer = typeof header === 'string' && SCHEME.test(header);
      next(bearer ? AuthJwtErrors.INVALID_TOKEN('the bearer token is malformed', { headers: CHALLENGE }) : AuthJwtErrors.MISSING_TOKEN('this route needs "Authorization: Bearer <access token>"', { headers: CHALLENGE }));
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
            roles: Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [],
            ...(Array.isArray(claims.permissions) ? { permissions: claims.permissions.filter((p): p is string => typeof p === 'string') } : {}),
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
