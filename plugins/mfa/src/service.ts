import { randomBytes, randomUUID } from 'node:crypto';
import { GantryError, type RouteReply, type RouteRequest } from '@gantry/core';
import type { Audit, AuditRecordInput } from '@gantry/plugin-audit';
import type { Database, SqlEntityManager } from '@gantry/plugin-database';
import type { LoginAttempt, LoginMode, LoginResult, UserRecord, Users } from '@gantry/plugin-users';
import { acceptTotpStep, spendRecoveryCode } from './acceptance.js';
import type { MfaConfig } from './config.js';
import {
  MfaChallengeEntity,
  MfaRecoveryCodeEntity,
  MfaTotpEntity,
  type MfaChallengeRow,
  type MfaTotpRow,
} from './entity.js';
import { MfaErrors } from './errors.js';
import { tokenHash, type SecretBox } from './secret-box.js';
import {
  matchTotpStep,
  newRecoveryCodes,
  newTotpSecret,
  normalizeRecoveryCode,
  normalizeTotpCode,
  otpauthUrl,
} from './totp.js';

/** An account's MFA state, as other plugins read it. */
export interface MfaStatus {
  /** `off`: never enrolled or disabled; `pending`: enrolled, not confirmed yet (not asked at sign-in); `active`: asked at every sign-in. */
  readonly totp: 'off' | 'pending' | 'active';
  /** Unused recovery codes. */
  readonly recoveryCodesLeft: number;
  /** ISO 8601 UTC end of the current lock after too many wrong codes, if any. */
  readonly lockedUntil?: string;
}

/** The MFA service other plugins see. */
export interface Mfa {
  /** The account's MFA state (never its secret). */
  status(userId: string): Promise<MfaStatus>;
}

/** What the answer to a sign-in is when the account has TOTP on (a type, not an interface: it is a login step's body record). */
export type MfaChallengeBody = {
  readonly mfaRequired: true;
  readonly mfaToken: string;
};

/** What {@link MfaService} needs. */
export interface MfaServiceOptions {
  readonly db: Database;
  readonly users: Users;
  readonly audit: Audit;
  readonly config: MfaConfig;
  /** The secret box, available once the key is loaded (start). */
  readonly box: () => SecretBox;
  /** Epoch milliseconds. */
  readonly now: () => number;
}

/** Which second factor proved a code. */
type Factor = 'totp' | 'recovery-code';

const MFA_TOKEN = /^[A-Za-z0-9_-]{43}$/;
// Compare-and-set retries of the failure counter under concurrent wrong codes.
const CAS_RETRIES = 5;

/** TOTP enrolment, the sign-in challenge and its verification, recovery codes, throttling. */
export class MfaService implements Mfa {
  constructor(private readonly o: MfaServiceOptions) {}

  async status(userId: string): Promise<MfaStatus> {
    const row = await this.totpRow(userId);
    if (!row) return { totp: 'off', recoveryCodesLeft: 0 };
    const left = await this.guard(() => this.o.db.em().count(MfaRecoveryCodeEntity, { userId, usedAt: null }));
    const lockedUntil = this.lockEnd(row);
    return {
      totp: row.state === 'active' ? 'active' : 'pending',
      recoveryCodesLeft: left,
      ...(lockedUntil ? { lockedUntil: lockedUntil.toISOString() } : {}),
    };
  }

  /** Starts (or restarts) a pending enrolment: a new secret, shown this once. */
  async enroll(userId: string, ip: string | undefined): Promise<{ secret: string; otpauthUrl: string }> {
    const user = await this.account(userId);
    const secret = newTotpSecret();
    const sealed = this.o.box().seal(secret, userId);
    const now = new Date(this.o.now());
    const stored = await this.storePending(userId, {
      secret: sealed,
      state: 'pending',
      lastStep: null,
      failedAttempts: 0,
      lockedUntil: null,
      createdAt: now,
      confirmedAt: null,
    });
    if (!stored) {
      await this.record({
        action: 'auth.mfa.enroll',
        outcome: 'denied',
        user: userId,
        ip,
        details: { reason: 'already-enabled' },
      });
      throw MfaErrors.ALREADY_ENABLED('TOTP is already enabled on this account');
    }
    await this.record({ action: 'auth.mfa.enroll', outcome: 'success', user: userId, ip });
    return { secret, otpauthUrl: otpauthUrl({ issuer: this.o.config.issuer, label: user.email, secret }) };
  }

  /** Activates the pending enrolment with a current code and issues ten recovery codes (shown this once). */
  async confirm(userId: string, input: string, ip: string | undefined): Promise<{ recoveryCodes: string[] }> {
    const row = await this.totpRow(userId);
    if (!row) throw MfaErrors.NOT_ENROLLED('there is no TOTP enrolment to confirm');
    if (row.state === 'active') throw MfaErrors.ALREADY_ENABLED('TOTP is already enabled on this account');
    const code = normalizeTotpCode(input);
    const now = this.o.now();
    const step = code
      ? await matchTotpStep(this.o.box().open(row.secret, userId), code, { nowMs: now, afterStep: null })
      : undefined;
    if (step === undefined) {
      await this.record({
        action: 'auth.mfa.confirm',
        outcome: 'failure',
        user: userId,
        ip,
        details: { reason: 'wrong-code' },
      });
      throw MfaErrors.CONFIRM_FAILED('the code does not match the pending enrolment');
    }
    const codes = newRecoveryCodes();
    const confirmed = await this.guard(() =>
      this.o.db.transaction(async (em) => {
        // Conditional on the very secret the code was checked against: an enrolment restarted meanwhile is not activated.
        const changed = await em.nativeUpdate(
          MfaTotpEntity,
          { userId, state: 'pending', secret: row.secret },
          { state: 'active', lastStep: step, failedAttempts: 0, lockedUntil: null, confirmedAt: new Date(now) },
        );
        if (changed !== 1) return false;
        await this.replaceRecoveryCodes(em, userId, codes, new Date(now));
        return true;
      }),
    );
    if (!confirmed)
      throw MfaErrors.CONFIRM_FAILED('the enrolment changed meanwhile (restarted or confirmed by another request)');
    await this.record({ action: 'auth.mfa.confirm', outcome: 'success', user: userId, ip });
    return { recoveryCodes: codes };
  }

  /** Turns TOTP off after re-authentication: the password (when the account has one) and a current code or a recovery code. */
  async disable(
    userId: string,
    input: { readonly password?: string | undefined; readonly code: string },
    ip: string | undefined,
  ): Promise<void> {
    const user = await this.account(userId);
    const row = await this.totpRow(userId);
    if (row?.state !== 'active') throw MfaErrors.NOT_ENROLLED('TOTP is not enabled on this account');
    await this.refuseWhenLocked(row, 'auth.mfa.disable', ip);
    if (
      user.hasPassword &&
      (input.password === undefined || !(await this.o.users.verifyPassword(userId, input.password)))
    ) {
      await this.record({
        action: 'auth.mfa.disable',
        outcome: 'failure',
        user: userId,
        ip,
        details: { reason: 'wrong-password' },
      });
      throw MfaErrors.REAUTH_FAILED('the password or the code is wrong');
    }
    const factor = await this.checkCode(row, input.code);
    if (!factor) {
      await this.failed(row, 'auth.mfa.disable', ip);
      throw MfaErrors.REAUTH_FAILED('the password or the code is wrong');
    }
    await this.guard(() =>
      this.o.db.transaction(async (em) => {
        await em.nativeDelete(MfaRecoveryCodeEntity, { userId });
        await em.nativeDelete(MfaChallengeEntity, { userId });
        await em.nativeDelete(MfaTotpEntity, { userId });
      }),
    );
    await this.recordFactor(factor, userId, ip);
    await this.record({ action: 'auth.mfa.disable', outcome: 'success', user: userId, ip, details: { factor } });
  }

  /** The login step: a single-use challenge when the account has TOTP on, else undefined (the sign-in goes on). */
  async challenge(user: UserRecord, attempt: LoginAttempt): Promise<MfaChallengeBody | undefined> {
    const row = await this.totpRow(user.id);
    if (row?.state !== 'active') return undefined;
    const token = randomBytes(32).toString('base64url');
    const now = this.o.now();
    await this.guard(async () => {
      const em = this.o.db.em();
      // Spent and expired challenges of this account go now: the table stays as small as the sign-ins in flight.
      await em.nativeDelete(MfaChallengeEntity, {
        userId: user.id,
        $or: [{ consumedAt: { $ne: null } }, { expiresAt: { $lte: new Date(now) } }],
      });
      await em.insert(MfaChallengeEntity, {
        id: randomUUID(),
        tokenHash: tokenHash(token),
        userId: user.id,
        mode: attempt.mode,
        method: attempt.method,
        createdAt: new Date(now),
        expiresAt: new Date(now + this.o.config.challengeTtlSeconds * 1000),
        consumedAt: null,
      });
    });
    await this.record({
      action: 'auth.mfa.challenge',
      outcome: 'success',
      user: user.id,
      details: { method: attempt.method },
    });
    return { mfaRequired: true, mfaToken: token };
  }

  /** Finishes a challenged sign-in with a TOTP or recovery code: the users plugin issues the tokens (or session). */
  async verify(
    input: { readonly mfaToken: string; readonly code: string },
    req: RouteRequest,
    reply: RouteReply,
  ): Promise<LoginResult> {
    const ip = req.ip;
    const challenge = await this.openChallenge(input.mfaToken);
    const row = await this.totpRow(challenge.userId);
    // Disabled since the password step: nothing to verify against any more.
    if (row?.state !== 'active')
      throw MfaErrors.CHALLENGE_INVALID('this sign-in can no longer be completed: sign in again');
    await this.refuseWhenLocked(row, 'auth.mfa.verify', ip);
    const factor = await this.checkCode(row, input.code);
    if (!factor) {
      await this.failed(row, 'auth.mfa.verify', ip);
      throw MfaErrors.CODE_INVALID('the code is wrong, expired or already used');
    }
    const now = new Date(this.o.now());
    const spent = await this.guard(() =>
      this.o.db
        .em()
        .nativeUpdate(
          MfaChallengeEntity,
          { id: challenge.id, consumedAt: null, expiresAt: { $gt: now } },
          { consumedAt: now },
        ),
    );
    if (spent !== 1) throw MfaErrors.CHALLENGE_INVALID('this mfaToken was used by another request: sign in again');
    const user = await this.o.users.findById(challenge.userId);
    if (user?.status !== 'active')
      throw MfaErrors.CHALLENGE_INVALID('this sign-in can no longer be completed: the account is disabled or gone');
    await this.recordFactor(factor, user.id, ip);
    await this.record({ action: 'auth.mfa.verify', outcome: 'success', user: user.id, ip, details: { factor } });
    return this.o.users.completeLogin(
      user,
      { mode: challenge.mode as LoginMode, method: challenge.method },
      req,
      reply,
    );
  }

  // ---- codes -----------------------------------------------------------------------------

  /**
   * Accepts a TOTP code of a step newer than the last accepted one, or an unused recovery code; the
   * acceptance itself is atomic in the database (see acceptance.ts): of two requests with the same
   * code only one wins, on any number of instances.
   */
  private async checkCode(row: MfaTotpRow, input: string): Promise<Factor | undefined> {
    const userId = row.userId;
    const nowMs = this.o.now();
    const totp = normalizeTotpCode(input);
    if (totp) {
      const step = await matchTotpStep(this.o.box().open(row.secret, userId), totp, {
        nowMs,
        afterStep: row.lastStep ?? null,
      });
      if (step === undefined) return undefined;
      return (await this.guard(() => acceptTotpStep(this.o.db.em(), row, step, new Date(nowMs)))) ? 'totp' : undefined;
    }
    const recovery = normalizeRecoveryCode(input);
    if (!recovery) return undefined;
    const used = await this.guard(() =>
      spendRecoveryCode(this.o.db, userId, this.o.box().recoveryHash(userId, recovery), new Date(nowMs)),
    );
    return used ? 'recovery-code' : undefined;
  }

  /** Counts a wrong code; the `maxAttempts`-th in a row locks the account's MFA for `lockSeconds`. */
  private async failed(row: MfaTotpRow, action: string, ip: string | undefined): Promise<void> {
    const userId = row.userId;
    let current: MfaTotpRow | undefined = row;
    for (let i = 0; i < CAS_RETRIES && current?.state === 'active'; i++) {
      const nowMs = this.o.now();
      if (this.lockEnd(current, nowMs)) break;
      const count = current.failedAttempts + 1;
      const lockedUntil =
        count >= this.o.config.maxAttempts ? new Date(nowMs + this.o.config.lockSeconds * 1000) : undefined;
      const expected = current.failedAttempts;
      const changed = await this.guard(() =>
        this.o.db
          .em()
          .nativeUpdate(
            MfaTotpEntity,
            { userId, state: 'active', failedAttempts: expected },
            lockedUntil ? { failedAttempts: 0, lockedUntil } : { failedAttempts: count },
          ),
      );
      if (changed === 1) {
        await this.record({
          action,
          outcome: 'failure',
          user: userId,
          ip,
          details: { reason: 'wrong-code', attempt: count },
        });
        if (lockedUntil)
          await this.record({
            action: 'auth.mfa.lock',
            outcome: 'success',
            user: userId,
            ip,
            details: { until: lockedUntil.toISOString(), attempts: count },
          });
        return;
      }
      current = await this.totpRow(userId);
    }
    await this.record({ action, outcome: 'failure', user: userId, ip, details: { reason: 'wrong-code' } });
  }

  /** Throws 429 GANTRY_MFA_LOCKED (with Retry-After) while the account's MFA is locked. */
  private async refuseWhenLocked(row: MfaTotpRow, action: string, ip: string | undefined): Promise<void> {
    const nowMs = this.o.now();
    const end = this.lockEnd(row, nowMs);
    if (!end) return;
    await this.record({
      action,
      outcome: 'denied',
      user: row.userId,
      ip,
      details: { reason: 'locked', until: end.toISOString() },
    });
    const seconds = Math.max(1, Math.ceil((end.getTime() - nowMs) / 1000));
    throw MfaErrors.LOCKED(`too many wrong codes: MFA is locked for ${seconds} more seconds`, {
      headers: { 'Retry-After': String(seconds) },
      details: { retryAfterSeconds: seconds },
    });
  }

  private lockEnd(row: MfaTotpRow, nowMs = this.o.now()): Date | undefined {
    if (row.lockedUntil == null) return undefined;
    const end = new Date(row.lockedUntil);
    return end.getTime() > nowMs ? end : undefined;
  }

  /**
   * Stores a pending enrolment: replaces a pending one, or inserts one (a concurrent insert of the same
   * account makes it look again). False when TOTP is active on the account.
   */
  private async storePending(userId: string, pending: Omit<MfaTotpRow, 'userId'>): Promise<boolean> {
    for (let attempt = 0; attempt < CAS_RETRIES; attempt++) {
      const existing = await this.totpRow(userId);
      if (existing?.state === 'active') return false;
      const em = this.o.db.em();
      const stored = existing
        ? (await this.guard(() => em.nativeUpdate(MfaTotpEntity, { userId, state: 'pending' }, pending))) === 1
        : await this.guard(() =>
            em.insert(MfaTotpEntity, { userId, ...pending }).then(
              () => true,
              (err: unknown) => (isUniqueViolation(err) ? false : Promise.reject(err)),
            ),
          );
      if (stored) return true;
    }
    throw MfaErrors.UNAVAILABLE('the enrolment kept changing under concurrent requests: retry');
  }

  private async replaceRecoveryCodes(
    em: SqlEntityManager,
    userId: string,
    codes: readonly string[],
    now: Date,
  ): Promise<void> {
    await em.nativeDelete(MfaRecoveryCodeEntity, { userId });
    const box = this.o.box();
    await em.insertMany(
      MfaRecoveryCodeEntity,
      codes.map((code) => ({
        id: randomUUID(),
        userId,
        codeHash: box.recoveryHash(userId, normalizeRecoveryCode(code)!),
        createdAt: now,
        usedAt: null,
      })),
    );
  }

  // ---- rows ------------------------------------------------------------------------------

  private async openChallenge(mfaToken: string): Promise<MfaChallengeRow> {
    const now = new Date(this.o.now());
    const row = MFA_TOKEN.test(mfaToken)
      ? await this.guard(() =>
          this.o.db
            .em()
            .findOne(
              MfaChallengeEntity,
              { tokenHash: tokenHash(mfaToken), consumedAt: null, expiresAt: { $gt: now } },
              { disableIdentityMap: true },
            ),
        )
      : null;
    if (!row) throw MfaErrors.CHALLENGE_INVALID('the mfaToken is unknown, used or expired: sign in again');
    return row;
  }

  private async totpRow(userId: string): Promise<MfaTotpRow | undefined> {
    return (
      (await this.guard(() => this.o.db.em().findOne(MfaTotpEntity, { userId }, { disableIdentityMap: true }))) ??
      undefined
    );
  }

  private async account(userId: string): Promise<UserRecord> {
    const user = await this.o.users.findById(userId);
    if (!user) throw MfaErrors.ACCOUNT_NOT_FOUND('the signed-in account no longer exists');
    return user;
  }

  // ---- audit -----------------------------------------------------------------------------

  private async recordFactor(factor: Factor, userId: string, ip: string | undefined): Promise<void> {
    if (factor !== 'recovery-code') return;
    const left = await this.guard(() => this.o.db.em().count(MfaRecoveryCodeEntity, { userId, usedAt: null }));
    await this.record({
      action: 'auth.mfa.recovery_code',
      outcome: 'success',
      user: userId,
      ip,
      details: { remaining: left },
    });
  }

  /** Records an MFA event on the account; never a code, a secret or a token. A failed write fails the action (503). */
  private async record(entry: {
    action: string;
    outcome: AuditRecordInput['outcome'];
    user: string;
    ip?: string | undefined;
    details?: Record<string, unknown>;
  }): Promise<void> {
    await this.o.audit.record({
      action: entry.action,
      outcome: entry.outcome,
      actor: { id: entry.user, kind: 'user' },
      object: { type: 'user', id: entry.user },
      ...(entry.ip ? { ip: entry.ip } : {}),
      ...(entry.details ? { details: entry.details } : {}),
    });
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (GantryError.is(err)) throw err;
      throw MfaErrors.UNAVAILABLE('MFA data could not be read or written', { cause: err });
    }
  }
}

/** A unique-constraint violation (MikroORM's UniqueConstraintViolationException, on SQLite and PostgreSQL). */
function isUniqueViolation(err: unknown): boolean {
  return (
    (err as { constructor?: { name?: string } } | undefined)?.constructor?.name === 'UniqueConstraintViolationException'
  );
}
