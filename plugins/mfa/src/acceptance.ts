import type { Database, SqlEntityManager } from '@gantry/plugin-database';
import { MfaRecoveryCodeEntity, MfaTotpEntity, type MfaTotpRow } from './entity.js';

/** Rows whose lock, if any, has ended at `now`. */
function notLocked(now: Date) {
  return { $or: [{ lockedUntil: null }, { lockedUntil: { $lte: now } }] };
}

/**
 * Accepts a matched TOTP time step: one conditional UPDATE that succeeds only while the factor is
 * active with the same secret, unlocked, and `step` is strictly newer than the last accepted one.
 * Of two requests (on any number of instances) presenting the same code, only one gets true.
 * Success resets the failure count.
 */
export async function acceptTotpStep(
  em: SqlEntityManager,
  row: Pick<MfaTotpRow, 'userId' | 'secret'>,
  step: number,
  now: Date,
): Promise<boolean> {
  const changed = await em.nativeUpdate(
    MfaTotpEntity,
    {
      userId: row.userId,
      state: 'active',
      secret: row.secret,
      $and: [{ $or: [{ lastStep: null }, { lastStep: { $lt: step } }] }, notLocked(now)],
    },
    { lastStep: step, failedAttempts: 0, lockedUntil: null },
  );
  return changed === 1;
}

/**
 * Spends an unused recovery code of an active, unlocked factor, in one transaction: of two requests
 * presenting the same code, only one gets true. Success resets the failure count.
 */
export function spendRecoveryCode(db: Database, userId: string, codeHash: string, now: Date): Promise<boolean> {
  return db.transaction(async (em) => {
    // Clearing an ended lock changes nothing, but matches only when no lock holds (and holds the row until commit).
    if (
      (await em.nativeUpdate(MfaTotpEntity, { userId, state: 'active', ...notLocked(now) }, { lockedUntil: null })) !==
      1
    )
      return false;
    if ((await em.nativeUpdate(MfaRecoveryCodeEntity, { userId, codeHash, usedAt: null }, { usedAt: now })) !== 1)
      return false;
    await em.nativeUpdate(MfaTotpEntity, { userId }, { failedAttempts: 0 });
    return true;
  });
}
