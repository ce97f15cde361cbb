import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { MfaErrors } from './errors.js';

/** An encryption key as configured: 32 bytes as 64 hex digits, or as base64 / base64url (43 or 44 characters). */
export const KEY_FORMAT = /^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED = /^v1\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{22})$/;

/** 32 bytes from 64 hex digits or base64/base64url; throws GANTRY_MFA_KEY_INVALID otherwise. */
export function parseKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key = KEY_FORMAT.test(trimmed) ? Buffer.from(trimmed, HEX_KEY.test(trimmed) ? 'hex' : 'base64') : undefined;
  if (key?.length !== 32)
    throw MfaErrors.KEY_INVALID(`mfa: the encryption key in ${source} is not 32 bytes as 64 hex digits or base64`);
  return key;
}

/**
 * Seals TOTP secrets with AES-256-GCM (random 96-bit IV; the account id is the associated data, so a
 * sealed secret copied to another account's row does not open) and derives the keyed hashes of
 * recovery codes. Both keys are derived from the one configured key with HKDF-SHA256.
 */
export class SecretBox {
  private readonly sealKey: Buffer;
  private readonly hashKey: Buffer;

  constructor(key: Buffer) {
    this.sealKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'gantry-mfa/totp-secret', 32));
    this.hashKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'gantry-mfa/recovery-code', 32));
  }

  /** `v1.<iv>.<ciphertext>.<tag>` (base64url parts). */
  seal(plaintext: string, accountId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(accountId, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      iv.toString('base64url'),
      body.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** The plaintext of {@link seal}; throws GANTRY_MFA_SECRET_UNREADABLE when the key, the account or the text differ. */
  open(sealed: string, accountId: string): string {
    const parts = SEALED.exec(sealed);
    try {
      if (!parts) throw new TypeError('not a sealed value');
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, Buffer.from(parts[1]!, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(accountId, 'utf8'));
      decipher.setAuthTag(Buffer.from(parts[3]!, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(parts[2]!, 'base64url')), decipher.final()]).toString('utf8');
    } catch (err) {
      throw MfaErrors.SECRET_UNREADABLE(
        `mfa: the TOTP secret of account ${accountId} cannot be decrypted with the configured key`,
        { cause: err },
      );
    }
  }

  /** HMAC-SHA256 (hex) of a recovery code, bound to its account: a leaked table cannot be checked without the key. */
  recoveryHash(accountId: string, normalizedCode: string): string {
    return createHmac('sha256', this.hashKey).update(`${accountId}\n${normalizedCode}`).digest('hex');
  }
}

/** SHA-256 (hex) of an mfaToken: 256 random bits need no key, only not to be stored in clear. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
