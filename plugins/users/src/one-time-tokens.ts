import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { SqlEntityManager } from '@gantry/plugin-database';
import { UserTokenEntity } from './entity.js';
import { UsersErrors } from './errors.js';

/** What a mailed token is for. */
export type TokenPurpose = 'verify-email' | 'reset-password';

/** 256-bit token as mailed (base64url); only its SHA-256 is stored. */
export function newToken(): { raw: string; hash: string } {
  const raw = randomBytes(32).toString('base64url');
  return { raw, hash: sha256(raw) };
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Tokens that can only be base64url of 32 bytes: anything else is refused without a query. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Mailed one-time tokens: a new one replaces the older ones of the same purpose (an account holds at
 * most one per purpose, however often links are asked for); consuming is one conditional UPDATE
 * (unused, unexpired), so a token works once even with two concurrent requests.
 */
export class OneTimeTokens {
  /** Issues a token for `userId`; the older ones of that purpose, used or not, are deleted (their links stop working). */
  async issue(em: SqlEntityManager, userId: string, purpose: TokenPurpose, ttlSeconds: number): Promise<string> {
    const now = new Date();
    await em.nativeDelete(UserTokenEntity, { userId, purpose });
    const { raw, hash } = newToken();
    await em.insert(UserTokenEntity, {
      id: randomUUID(),
      userId,
      purpose,
      tokenHash: hash,
      createdAt: now,
      expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
      consumedAt: null,
    });
    return raw;
  }

  /** The account a usable token belongs to, without consuming it; 400 GANTRY_USERS_TOKEN_INVALID otherwise. */
  async peek(em: SqlEntityManager, purpose: TokenPurpose, raw: string): Promise<string> {
    if (!TOKEN_SHAPE.test(raw)) throw invalid();
    const row = await em.findOne(
      UserTokenEntity,
      { tokenHash: sha256(raw), purpose, consumedAt: null, expiresAt: { $gt: new Date() } },
      { disableIdentityMap: true },
    );
    if (!row) throw invalid();
    return row.userId;
  }

  /** Consumes a usable token and returns its account; 400 GANTRY_USERS_TOKEN_INVALID when used, voided, expired or unknown. */
  async consume(em: SqlEntityManager, purpose: TokenPurpose, raw: string): Promise<string> {
    const userId = await this.peek(em, purpose, raw);
    const now = new Date();
    const changed = await em.nativeUpdate(
      UserTokenEntity,
      { tokenHash: sha256(raw), purpose, consumedAt: null, expiresAt: { $gt: now } },
      { consumedAt: now },
    );
    if (changed !== 1) throw invalid();
    return userId;
  }
}

function invalid() {
  return UsersErrors.TOKEN_INVALID('this link is invalid, already used, replaced by a newer one, or expired');
}
