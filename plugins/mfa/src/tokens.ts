import { token } from '@gantry/core';
import type { Mfa } from './service.js';

/** The {@link Mfa} service: an account's MFA state (`status(userId)`). */
export const MfaToken = token<Mfa>('gantry.mfa.Mfa');
