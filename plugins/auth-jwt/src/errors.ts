import { defineErrors } from '@gantry/core';

/** Error registry of the `auth-jwt` plugin (codes `GANTRY_AUTH_JWT_<REASON>`). Retired codes are never reused. */
export const AuthJwtErrors = defineErrors('auth-jwt', {
  MISSING_TOKEN: { status: 401, title: 'Authentication required', fix: 'send "Authorization: Bearer <access token>"' },
  INVALID_TOKEN: { status: 401, title: 'Invalid token', fix: 'sign in again to get a new token' },
  TOKEN_EXPIRED: { status: 401, title: 'Token expired', fix: 'get a new access token with the refresh token' },
  TOKEN_REVOKED: { status: 401, title: 'Token revoked', fix: 'sign in again' },
  REFRESH_REUSED: {
    status: 401,
    title: 'Refresh token reused',
    fix: 'sign in again: every token of this session was revoked because a used refresh token was presented again',
  },
  STORE_UNAVAILABLE: {
    status: 503,
    title: 'Token store unavailable',
    fix: 'retry later; operators: check that Redis is up and reachable (see /readyz)',
  },
  REDIS_REQUIRED: {
    status: 500,
    title: 'The redis plugin is required',
    fix: 'enable the "redis" plugin (e.g. plugins.redis: { "url": "redis://redis:6379" }), or set plugins["auth-jwt"].store to "memory" (one instance only)',
  },
  KEYS_REQUIRED: {
    status: 500,
    title: 'Signing keys are required',
    fix: 'set plugins["auth-jwt"].keys (or GANTRY_AUTH_JWT__KEYS) to a key ring with at least one privateKey',
  },
  KEY_INVALID: {
    status: 500,
    title: 'Key cannot be imported',
    fix: 'give a key of the configured algorithm (EdDSA: Ed25519, ES256: EC P-256, RS256: RSA of 2048 bits or more) as PEM or JWK',
  },
  CLAIMS_INVALID: {
    status: 500,
    title: 'Claims cannot be issued',
    fix: 'do not pass registered claims (iss, aud, sub, exp, nbf, iat, jti, fid) in claims; give a non-empty subject',
  },
});
