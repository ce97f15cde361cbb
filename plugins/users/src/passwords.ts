import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import type Argon2 from 'argon2';
import { UsersErrors } from './errors.js';

// argon2 (a native addon) and the common-password list are loaded when a password is first hashed or
// checked, not at boot: a kernel that never touches a password never loads them.
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

/** The common-password list: data/common-passwords.txt (written by scripts/common-passwords.mjs). */
const COMMON_PASSWORDS = new URL('../../data/common-passwords.txt', import.meta.url);

/**
 * A sorted list of lines, held as the file's text and the offset of each line, searched by
 * bisection. For the ~18 000 common passwords that is ~0.25 MB of heap, where a `Set` of them with
 * the dictionary it was built from held ~4 MB.
 */
export class SortedLines {
  private constructor(
    private readonly text: string,
    /** Offset of each line, then the text's length: line i is text[starts[i], starts[i + 1] - 1). */
    private readonly starts: Uint32Array,
  ) {}

  /** `text`: lines in UTF-16 code unit order, each ended by a line feed. */
  static of(text: string): SortedLines {
    let count = 0;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) count++;
    const starts = new Uint32Array(count + 1);
    for (let i = 0, at = 0; i < count; i++) {
      const end = text.indexOf('\n', at);
      starts[i] = at;
      at = end + 1;
    }
    starts[count] = text.length;
    const lines = new SortedLines(text, starts);
    for (let i = 1; i < count; i++)
      if (lines.line(i - 1) >= lines.line(i))
        throw new Error(`line ${i + 1} is not after line ${i} (the lines must be sorted, without duplicates)`);
    if (text.length > 0 && !text.endsWith('\n')) throw new Error('the last line has no line feed');
    return lines;
  }

  get size(): number {
    return this.starts.length - 1;
  }

  has(word: string): boolean {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const line = this.line(mid);
      if (line === word) return true;
      if (line < word) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }

  private line(i: number): string {
    return this.text.slice(this.starts[i]!, this.starts[i + 1]! - 1);
  }
}

/**
 * The password policy: 8 to 128 code points, not one of the ~18 000 most common passwords of at
 * least 8 characters (zxcvbn-ts's breach-derived list, compared case-insensitively), not the email
 * address.
 */
export class PasswordPolicy {
  private commonList: SortedLines | undefined;

  /** Fails the boot when the list is not there; it is read on the first check. */
  constructor(private readonly listFile: URL = COMMON_PASSWORDS) {
    try {
      if (!statSync(listFile).isFile()) throw new Error(`${listFile.pathname} is not a file`);
    } catch (err) {
      throw UsersErrors.PASSWORD_LIST_MISSING(`cannot read the common-password list ${listFile.pathname}`, {
        cause: err,
      });
    }
  }

  private get common(): SortedLines {
    // (A checkout that turned the line ends into CRLF must not leave "password1\r" in the list.)
    this.commonList ??= SortedLines.of(readFileSync(this.listFile, 'utf8').replaceAll('\r\n', '\n'));
    return this.commonList;
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
