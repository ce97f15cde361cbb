/** @gantry/plugin-auth-jwt: JWT access and refresh tokens, JWKS and bearer authentication for Gantry. */
export { plugin } from './plugin.js';
export { AuthJwtToken } from './tokens.js';
export { AuthJwtErrors } from './errors.js';
export {
  ALGORITHMS,
  authJwtConfigSchema,
  keySchema,
  type AuthJwtConfig,
  type AuthJwtOptions,
  type JwtAlgorithm,
  type KeyOptions,
} from './config.js';
export { ACCESS_TYP, REFRESH_TYP, TokenService, type AccessClaims, type TokenPair } from './token-service.js';
export { requiresBearer } from './bearer-guard.js';
export type { ConsumeOutcome, RevocationState, TokenStore } from './token-store.js';
export type { TokenCacheStats } from './token-cache.js';
export type { RevocationMirrorStats } from './revocation-mirror.js';
