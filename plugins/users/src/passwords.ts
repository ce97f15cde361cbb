import { createRequire } from 'node:module';
import type Argon2 from 'argon2';
import { UsersErrors } from './errors.js';

// argon2 (a native addon) and zxcvbn's dictionaries (a few MB of heap) are loaded when a password is
// first hashed or checked, not at boot: a kernel that never touches a password never loads them.
const require = createRequire(import.meta.url);
let argon2Module: typeof Argon2 | undefined;
function argon2(): typeof Argon2 {
  argon2Module ??= require('argon2') as typeof Argon2;
  return argon2Module;
}

/** Password length bounds, in Unicode code points (NIST SP 800-63B: at least 8, allow at least 64). */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

/** argon2id parameters. */
export interface Argon2Params {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/**
 * Hashes and checks passwords with argon2id. The password is hashed exactly as given: no trimming,
 * no case folding, no Unicode normalization (what the user typed is what they type next time).
 */
export class PasswordHasher {
  /** A hash of a random password, verified when the account does not exist, so both cases cost the same. */
  private dummy: Promise<string> | undefined;

  constructor(private readonly params: Argon2Params) {}

  hash(password: string): Promise<string> {
    const a = argon2();
    return a.hash(password, { type: a.argon2id, ...this.params });
  }

  /** Whether `password` matches `hash`; a malformed hash is a mismatch, never a throw. */
  async verify(hash: string, password: string): Promise<boolean> {
    try {
      return await argon2().verify(hash, password);
    } catch {
      return false;
    }
  }

  /** Spends the time of one verification against nothing: the "no such account" path of a sign-in. */
  async verifyNothing(password: string): Promise<false> {
    this.dummy ??= this.hash(`dummy-${Math.random()}-${Date.now()}`);
    await this.verify(await this.dummy, password);
    return false;
  }

  /** Whether a stored hash uses other (older) parameters than the configured ones. */
  needsRehash(hash: string): boolean {
    try {
      return argon2().needsRehash(hash, { ...this.params });
    } catch {
      return true;
    }
  }
}

/**
 * The password policy: 8 to 128 code points, not one of the ~18 000 most common passwords of at
 * least 8 characters (zxcvbn's breach-derived list, compared case-insensitively), not the email address.
 */
export class PasswordPolicy {
  private commonSet: ReadonlySet<string> | undefined;

  /** The common passwords, read from zxcvbn's list on the first check. */
  private get common(): ReadonlySet<string> {
    if (!this.commonSet) {
      const { dictionary } = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
      const list = dictionary['passwords-common'] as readonly string[];
      this.commonSet = new Set(list.filter((p) => p.length >= PASSWORD_MIN).map((p) => p.toLowerCase()));
    }
    return this.commonSet;
  }

  /** Throws 400 GANTRY_USERS_PASSWORD_WEAK with the reason when the password is refused. */
  check(password: string, email?: string): void {
    const length = [...password].length;
    const refuse = (reason: string, message: string): never => {
      throw UsersErrors.PASSWORD_WEAK(message, { details: { errors: [{ path: 'password', message, reason }] } });
    };
    if (length < PASSWORD_MIN) refuse('too-short', `password must have at least ${PASSWORD_MIN} characters`);
    if (length > PASSWORD_MAX) refuse('too-long', `password must have at most ${PASSWORD_MAX} characters`);
    const folded = password.toLowerCase();
    if (this.common.has(folded)) refuse('common', 'this password is among the most commonly used ones: choose another');
    if (email !== undefined && (folded === email.toLowerCase() || folded === email.split('@')[0]?.toLowerCase()))
      refuse('email', 'the password must not be the email address');
  }

  /** Size of the common-password list (for readiness details). */
  get commonCount(): number {
    return this.common.size;
  }
}
