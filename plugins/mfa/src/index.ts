/** @gantry/plugin-mfa: TOTP second factor for Gantry sign-ins, with recovery codes, replay protection and throttling. */
export { plugin } from './plugin.js';
export { MfaToken } from './tokens.js';
export { MfaErrors } from './errors.js';
export { mfaConfigSchema, type MfaConfig, type MfaOptions } from './config.js';
export type { Mfa, MfaChallengeBody, MfaStatus } from './service.js';
export { MfaChallengeEntity, mfaMigrations, MfaRecoveryCodeEntity, MfaTotpEntity } from './entity.js';
