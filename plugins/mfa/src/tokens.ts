import { token } from '@gantry/core';
import type { Mfa } from './service.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Mfa } from './service.js';

/** The {@link Mfa} service: an account's MFA state (`status(userId)`). */
export const MfaToken = token<Mfa>('gantry.mfa.Mfa');
