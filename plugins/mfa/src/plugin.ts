import path from 'node:path';
import { definePlugin, packageVersion, type Plugin } from '@gantry/core';
import { AuditToken } from '@gantry/plugin-audit';
import { DatabaseToken } from '@gantry/plugin-database';
import { UsersToken } from '@gantry/plugin-users';
import { mfaConfigSchema } from './config.js';
import { MfaChallengeEntity, mfaMigrations, MfaRecoveryCodeEntity, MfaTotpEntity } from './entity.js';
import { MfaErrors } from './errors.js';
import { KEY_FILE, loadOrCreateKey } from './key-file.js';
import { mfaRoutes } from './routes.js';
import { parseKey, SecretBox } from './secret-box.js';
import { MfaService } from './service.js';
import { MfaToken } from './tokens.js';

/** Internal knobs for tests; not part of the public API (the package exports only {@link plugin}). */
export interface MfaInternals {
  /** The clock (epoch milliseconds) of time steps, locks and challenge expiry. Default `Date.now`. */
  readonly now?: () => number;
}

/** Builds the `mfa` plugin; {@link plugin} is the one with the real clock. */
export function createMfaPlugin(internals: MfaInternals = {}): Plugin {
  return definePlugin({
    name: 'mfa',
    version: packageVersion(import.meta.url),
    kernel: '^0.1.0',
    description:
      'TOTP second factor: enrolment with confirmation, a sign-in step with single-use challenges, recovery codes, replay protection, lockout after wrong codes; secrets encrypted at rest',
    dependsOn: ['http', 'database', 'audit', 'users'],
    requires: [DatabaseToken, AuditToken, UsersToken],
    provides: [MfaToken],
    config: mfaConfigSchema,
    validate(config, { profile }) {
      return config.encryptionKey === undefined && profile !== 'embedded'
        ? [MfaErrors.KEY_REQUIRED(`no encryptionKey in profile "${profile}": only the embedded profile generates one`)]
        : [];
    },
    register(ctx) {
      const { config } = ctx;
      // A configured key is checked now (no I/O), so a malformed one refuses the boot with the other config problems.
      let box =
        config.encryptionKey === undefined
          ? undefined
          : new SecretBox(parseKey(config.encryptionKey, 'plugins.mfa.encryptionKey'));
      const keySource = box ? 'config' : 'file';

      const db = ctx.container.get(DatabaseToken);
      db.registerEntities([MfaTotpEntity, MfaRecoveryCodeEntity, MfaChallengeEntity]);
      db.registerMigrations('mfa', mfaMigrations);
      const users = ctx.container.get(UsersToken);
      const mfa = new MfaService({
        db,
        users,
        audit: ctx.container.get(AuditToken),
        config,
        box: () => {
          if (!box) throw MfaErrors.UNAVAILABLE('mfa is not started yet');
          return box;
        },
        now: internals.now ?? Date.now,
      });
      ctx.provide(MfaToken, mfa);
      users.addLoginStep({ name: 'mfa', run: (user, attempt) => mfa.challenge(user, attempt) });
      mfaRoutes(ctx.http, mfa);

      if (!box) {
        ctx.lifecycle.hook({
          name: 'key-file',
          start: async () => {
            const file = path.resolve(ctx.appDir, KEY_FILE);
            const loaded = await loadOrCreateKey(file);
            box = new SecretBox(loaded.key);
            ctx.logger.warn(
              { file },
              loaded.created
                ? 'mfa generated its encryption key into this file (mode 0600): keep it with the database, or set "encryptionKey" (required outside the embedded profile)'
                : 'mfa uses the encryption key of this file: set "encryptionKey" in production (required outside the embedded profile)',
            );
          },
        });
      }

      ctx.health.check(
        () =>
          box
            ? { status: 'up', details: { key: keySource } }
            : { status: 'down', details: { key: keySource, error: 'not started' } },
        { critical: true },
      );
    },
  });
}

/** The `mfa` plugin: TOTP enrolment and the second step of every sign-in. */
export const plugin = createMfaPlugin();
