import { token } from '@gantry/core';
import type { TokenService } from './token-service.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { TokenService } from './token-service.js';

/** The token service of the `auth-jwt` plugin: issue, verify, refresh and revoke tokens. */
export const AuthJwtToken = token<TokenService>('gantry.auth-jwt.TokenService');
