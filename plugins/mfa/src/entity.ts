import { defineEntity, p, type InferEntity, type MigrationDefinition } from '@gantry/plugin-database';

/** An account's TOTP factor (table `mfa_totp`, one row per account): pending until confirmed, then active. */
export const MfaTotpEntity = defineEntity({
  name: 'MfaTotp',
  tableName: 'mfa_totp',
  properties: {
    userId: p.string().length(36).primary(),
    /** The base32 secret, sealed with AES-256-GCM (see SecretBox): never stored in clear. */
    secret: p.text(),
    state: p.string().length(16),
    /** The newest time step whose code was accepted: only strictly newer steps are accepted next. */
    lastStep: p.integer().nullable(),
    /** Consecutive wrong codes since the last success or lock. */
    failedAttempts: p.integer(),
    lockedUntil: p.datetime().nullable(),
    createdAt: p.datetime(),
    confirmedAt: p.datetime().nullable(),
  },
});

/** A loaded `mfa_totp` row. */
export type MfaTotpRow = InferEntity<typeof MfaTotpEntity>;

/** A one-time recovery code (table `mfa_recovery_code`): only its keyed hash is stored. */
export const MfaRecoveryCodeEntity = defineEntity({
  name: 'MfaRecoveryCode',
  tableName: 'mfa_recovery_code',
  properties: {
    id: p.string().length(36).primary(),
    userId: p.string().length(36),
    codeHash: p.string().length(64).unique(),
    createdAt: p.datetime(),
    usedAt: p.datetime().nullable(),
  },
});

/** A sign-in waiting for its second factor (table `mfa_challenge`): only the SHA-256 of the mfaToken is stored. */
export const MfaChallengeEntity = defineEntity({
  name: 'MfaChallenge',
  tableName: 'mfa_challenge',
  properties: {
    id: p.string().length(36).primary(),
    tokenHash: p.string().length(64).unique(),
    userId: p.string().length(36),
    /** The users plugin's LoginMode: 'token' or 'session'. */
    mode: p.string().length(16),
    /** How the first factor was proven ('password', 'oauth:<provider>'). */
    method: p.string().length(64),
    createdAt: p.datetime(),
    expiresAt: p.datetime(),
    consumedAt: p.datetime().nullable(),
  },
});

/** A loaded `mfa_challenge` row. */
export type MfaChallengeRow = InferEntity<typeof MfaChallengeEntity>;

/**
 * The MFA tables, for SQLite and PostgreSQL. Rows belong to an account of the users plugin and go
 * with it (`on delete cascade`); the migration runs after the users migrations (mfa depends on users).
 */
export const mfaMigrations: readonly MigrationDefinition[] = [
  {
    name: '0001_create_mfa',
    up(m) {
      const ts = m.driver === 'postgresql' ? 'timestamptz' : 'datetime';
      m.sql(`create table mfa_totp (
        user_id varchar(36) not null primary key references user_account (id) on delete cascade,
        secret text not null,
        state varchar(16) not null,
        last_step integer null,
        failed_attempts integer not null default 0,
        locked_until ${ts} null,
        created_at ${ts} not null,
        confirmed_at ${ts} null)`);
      m.sql(`create table mfa_recovery_code (
        id varchar(36) not null primary key,
        user_id varchar(36) not null references user_account (id) on delete cascade,
        code_hash varchar(64) not null unique,
        created_at ${ts} not null,
        used_at ${ts} null)`);
      m.sql('create index mfa_recovery_code_user_idx on mfa_recovery_code (user_id)');
      m.sql(`create table mfa_challenge (
        id varchar(36) not null primary key,
        token_hash varchar(64) not null unique,
        user_id varchar(36) not null references user_account (id) on delete cascade,
        mode varchar(16) not null,
        method varchar(64) not null,
        created_at ${ts} not null,
        expires_at ${ts} not null,
        consumed_at ${ts} null)`);
      m.sql('create index mfa_challenge_user_idx on mfa_challenge (user_id)');
    },
  },
];
