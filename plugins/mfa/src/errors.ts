import { defineErrors } from '@gantry/core';

/** Error registry of the `mfa` plugin (codes `GANTRY_MFA_<REASON>`). Retired codes are never reused. */
export const MfaErrors = defineErrors('mfa', {
  CODE_INVALID: {
    status: 401,
    title: 'Invalid MFA code',
    fix: 'type the current code of the authenticator app (each code works once) or an unused recovery code; check the device clock',
  },
  CHALLENGE_INVALID: {
    status: 401,
    title: 'MFA challenge invalid or expired',
    fix: 'sign in again with email and password to get a new mfaToken (it works once and expires after a few minutes)',
  },
  LOCKED: {
    status: 429,
    title: 'MFA locked',
    fix: 'too many wrong codes: wait for the time in Retry-After, then try again',
  },
  CONFIRM_FAILED: {
    status: 400,
    title: 'Code does not match the pending enrolment',
    fix: 'scan the QR code (or type the secret) of the latest enrolment into the authenticator app, check its clock, and send its current code',
  },
  REAUTH_FAILED: {
    status: 403,
    title: 'Re-authentication failed',
    fix: 'send the account password and a current authenticator code (or an unused recovery code)',
  },
  ALREADY_ENABLED: {
    status: 409,
    title: 'TOTP already enabled',
    fix: 'disable it first (DELETE /auth/mfa/totp) to enrol another device',
  },
  NOT_ENROLLED: {
    status: 404,
    title: 'No TOTP enrolment',
    fix: 'start one with POST /auth/mfa/totp/enroll (and confirm it with POST /auth/mfa/totp/confirm)',
  },
  ACCOUNT_NOT_FOUND: {
    status: 404,
    title: 'Account not found',
    fix: 'sign in again: the account of this token no longer exists',
  },
  UNAVAILABLE: {
    status: 503,
    title: 'MFA unavailable',
    fix: 'retry later; operators: check the database (see /readyz)',
  },
  KEY_REQUIRED: {
    status: 500,
    title: 'MFA encryption key required',
    fix: 'set plugins.mfa.encryptionKey (or GANTRY_MFA__ENCRYPTION_KEY) to 32 random bytes as base64 (`openssl rand -base64 32`); only the embedded profile generates one',
  },
  KEY_INVALID: {
    status: 500,
    title: 'MFA encryption key unusable',
    fix: 'give 32 random bytes as 64 hex digits or base64; for the embedded key file, delete <appDir>/var/mfa.key only if no account has enrolled yet (enrolled secrets become unreadable)',
  },
  SECRET_UNREADABLE: {
    status: 500,
    title: 'Stored TOTP secret cannot be decrypted',
    fix: 'the encryptionKey changed or the row was altered: restore the previous key, or disable MFA for the account so it can enrol again',
  },
});
