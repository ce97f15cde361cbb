import { defineEntity, p, type InferEntity, type MigrationDefinition } from '@gantry/plugin-database';

/** An account (table `user_account`). */
export const UserEntity = defineEntity({
  name: 'UserAccount',
  tableName: 'user_account',
  properties: {
    id: p.string().length(36).primary(),
    /** As the user typed it (case kept). */
    email: p.string().length(254),
    /** Lookup key: lower-cased email, unique. */
    emailKey: p.string().length(254).unique(),
    emailVerifiedAt: p.datetime().nullable(),
    name: p.string().length(100),
    /** argon2id PHC string; null for accounts created by an OAuth sign-in. */
    passwordHash: p.string().length(255).nullable(),
    passwordChangedAt: p.datetime().nullable(),
    status: p.string().length(16),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});

/** A loaded account row. */
export type UserRow = InferEntity<typeof UserEntity>;

/** A one-time token mailed to the user (table `user_token`): only its SHA-256 is stored. */
export const UserTokenEntity = defineEntity({
  name: 'UserToken',
  tableName: 'user_token',
  properties: {
    id: p.string().length(36).primary(),
    userId: p.string().length(36),
    purpose: p.string().length(16),
    tokenHash: p.string().length(64).unique(),
    createdAt: p.datetime(),
    expiresAt: p.datetime(),
    consumedAt: p.datetime().nullable(),
  },
});

/** The users tables, for SQLite and PostgreSQL. */
export const usersMigrations: readonly MigrationDefinition[] = [
  {
    name: '0001_create_users',
    up(m) {
      const ts = m.driver === 'postgresql' ? 'timestamptz' : 'datetime';
      m.sql(`create table user_account (
        id varchar(36) not null primary key,
        email varchar(254) not null,
        email_key varchar(254) not null unique,
        email_verified_at ${ts} null,
        name varchar(100) not null,
        password_hash varchar(255) null,
        password_changed_at ${ts} null,
        status varchar(16) not null,
        created_at ${ts} not null,
        updated_at ${ts} not null)`);
      m.sql('create index user_account_created_idx on user_account (created_at, id)');
      m.sql(`create table user_token (
        id varchar(36) not null primary key,
        user_id varchar(36) not null references user_account (id) on delete cascade,
        purpose varchar(16) not null,
        token_hash varchar(64) not null unique,
        created_at ${ts} not null,
        expires_at ${ts} not null,
        consumed_at ${ts} null)`);
      m.sql('create index user_token_user_idx on user_token (user_id, purpose)');
    },
  },
];
