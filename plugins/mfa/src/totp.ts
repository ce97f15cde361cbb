import { randomInt } from 'node:crypto';
import { generateSecret, generateURI, verify } from 'otplib';

/** Seconds per TOTP time step (RFC 6238 default; what authenticator apps assume). */
export const TOTP_PERIOD = 30;

const TOTP_CODE = /^\d{6}$/;
const RECOVERY_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const RECOVERY_CODE = /^[a-z2-7]{16}$/;

/** How many recovery codes a confirmed enrolment gets. */
export const RECOVERY_CODE_COUNT = 10;

/** A new TOTP secret: 20 random bytes (160 bits, RFC 4226's recommendation), base32. */
export function newTotpSecret(): string {
  return generateSecret({ length: 20 });
}

/** The `otpauth://totp/...` URL authenticator apps scan (SHA-1, 6 digits, 30 s: what every app supports). */
export function otpauthUrl(options: {
  readonly issuer: string;
  readonly label: string;
  readonly secret: string;
}): string {
  return generateURI({ issuer: options.issuer, label: options.label, secret: options.secret, period: TOTP_PERIOD });
}

/**
 * The time step whose code `code` is, searching the current step and one on each side, and only steps
 * strictly after `afterStep` (replay protection); undefined when it matches none.
 */
export async function matchTotpStep(
  secret: string,
  code: string,
  options: { readonly nowMs: number; readonly afterStep: number | null },
): Promise<number | undefined> {
  const epoch = Math.floor(options.nowMs / 1000);
  const newest = Math.floor(epoch / TOTP_PERIOD) + 1;
  const { afterStep } = options;
  if (afterStep !== null && afterStep >= newest) return undefined;
  // A tolerance of one period at an exact epoch covers exactly the steps current-1 .. current+1.
  const result = await verify({
    secret,
    token: code,
    epoch,
    period: TOTP_PERIOD,
    epochTolerance: TOTP_PERIOD,
    ...(afterStep !== null ? { afterTimeStep: afterStep } : {}),
  });
  // The TOTP strategy's result carries the matched step (the union type also covers HOTP's).
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}

/** A typed TOTP code (spaces removed), or undefined when it is not 6 digits. */
export function normalizeTotpCode(input: string): string | undefined {
  const code = input.replace(/\s+/g, '');
  return TOTP_CODE.test(code) ? code : undefined;
}

/** Ten recovery codes of 80 random bits each, shown as `xxxx-xxxx-xxxx-xxxx` (lower-case base32). */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const chars = Array.from({ length: 16 }, () => RECOVERY_ALPHABET[randomInt(RECOVERY_ALPHABET.length)]).join('');
    return chars.match(/.{4}/g)!.join('-');
  });
}

/** A typed recovery code without case, dashes or spaces, or undefined when it cannot be one. */
export function normalizeRecoveryCode(input: string): string | undefined {
  const code = input.toLowerCase().replace(/[\s-]+/g, '');
  return RECOVERY_CODE.test(code) ? code : undefined;
}
