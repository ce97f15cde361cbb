// Tokens of optional collaborators, declared here by their global name (token() is Symbol.for):
// importing them from the plugins that provide them would make those plugins mandatory installs.
import { token } from '@gantry/core';
import type { TokenService } from '@gantry/plugin-auth-jwt/tokens';
import type { Metrics } from '@gantry/plugin-metrics/tokens';
import type { RateLimits } from '@gantry/plugin-rate-limit/tokens';
import type { Rbac } from '@gantry/plugin-rbac/tokens';
import type { RedisConnection } from '@gantry/plugin-redis/tokens';
import type { Sessions } from '@gantry/plugin-sessions-redis/tokens';

/** auth-jwt's token service: verifies bearer tokens exactly as HTTP routes do. */
export const AuthJwtToken = token<TokenService>('gantry.auth-jwt.TokenService');
/** sessions-redis's sessions: resolves a session cookie. */
export const SessionsToken = token<Sessions>('gantry.sessions.Sessions');
/** rbac's service: permission checks per subscription. */
export const RbacToken = token<Rbac>('gantry.rbac.Rbac');
/** redis's shared connection: pub/sub fan-out. */
export const RedisToken = token<RedisConnection>('gantry.redis.Connection');
/** metrics's registry. */
export const MetricsToken = token<Metrics>('gantry.metrics.Metrics');
/** rate-limit's policies: counts upgrades per client IP. */
export const RateLimitsToken = token<RateLimits>('gantry.rate-limit.RateLimits');
