// Tokens of optional collaborators, declared here by their global name (token() is Symbol.for).
import { token } from '@gantry/core';
import type { TokenService } from '@gantry/plugin-auth-jwt/tokens';
import type { RateLimits } from '@gantry/plugin-rate-limit/tokens';
import type { Rbac } from '@gantry/plugin-rbac/tokens';
import type { Sessions } from '@gantry/plugin-sessions-redis/tokens';

/** auth-jwt's token service: verifies the bearer token of a graphql-ws connection. */
export const AuthJwtToken = token<TokenService>('gantry.auth-jwt.TokenService');
/** rbac's service: permission checks per field. */
export const RbacToken = token<Rbac>('gantry.rbac.Rbac');
/** sessions-redis's sessions: the session cookie of a graphql-ws upgrade. */
export const SessionsToken = token<Sessions>('gantry.sessions.Sessions');
/** rate-limit's policies: counts subscription upgrades per client IP. */
export const RateLimitsToken = token<RateLimits>('gantry.rate-limit.RateLimits');
