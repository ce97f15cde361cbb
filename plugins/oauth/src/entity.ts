import { defineEntity, p, type InferEntity, type MigrationDefinition } from '@gantry/plugin-database';

/**
 * A started sign-in waiting for its callback (table `oauth_state`). Only hashes of the state and of
 * the browser binding are stored; a row is deleted when its callback consumes it, or once expired.
 */
export const OAuthStateEntity = defineEntity({
  name: 'OAuthState',
  tableName: 'oauth_state',
  properties: {
    /** SHA-256 (hex) of the `state` parameter sent to the provider. */
    stateHash: p.string().length(64).primary(),
    /** SHA-256 (hex) of the `__Host-gantry.oauth` cookie value the sign-in started with. */
    bindingHash: p.string().length(64),
    provider: p.string().length(32),
    mode: p.string().length(16),
    /** PKCE code verifier, sent once to the token endpoint. Worthless without the code, which only reaches the callback. */
    codeVerifier: p.string().length(128),
    /** OIDC `nonce` expected in the ID token (null for plain OAuth 2.0 providers). */
    nonce: p.string().length(128).nullable(),
    createdAt: p.datetime(),
    expiresAt: p.datetime(),
  },
});

/** A loaded `oauth_state` row. */
export type OAuthStateRow = InferEntity<typeof OAuthStateEntity>;

/** The `oauth_state` table, for SQLite and PostgreSQL. */
export const oauthMigrations: readonly MigrationDefinition[] = [
  {
    name: '0001_create_oauth_state',
    up(m) {
      const ts = m.driver === 'postgresql' ? 'timestamptz' : 'datetime';
      m.sql(`create table oauth_state (
        state_hash varchar(64) not null primary key,
        binding_hash varchar(64) not null,
        provider varchar(32) not null,
        mode varchar(16) not null,
        code_verifier varchar(128) not null,
        nonce varchar(128) null,
        created_at ${ts} not null,
        expires_at ${ts} not null)`);
      m.sql('create index oauth_state_expires_idx on oauth_state (expires_at)');
    },
  },
];
