import { definePlugin, packageVersion } from '@gantry/core';
import { AuditToken } from '@gantry/plugin-audit';
import { AuthJwtToken } from '@gantry/plugin-auth-jwt';
import { DatabaseToken } from '@gantry/plugin-database';
import { MailerToken } from '@gantry/plugin-mailer';
import { RbacToken } from '@gantry/plugin-rbac';
import { z } from 'zod';
import { usersConfigSchema } from './config.js';
import { UserEntity, usersMigrations, UserTokenEntity } from './entity.js';
import { PasswordHasher, PasswordPolicy } from './passwords.js';
import { UserEvents } from './events.js';
import { EventsToken, SessionsToken } from './peer-tokens.js';
import { authRoutes, userRoutes } from './routes.js';
import { ACCOUNT_EXISTS_TEMPLATE, UsersService } from './service.js';
import { UsersToken } from './tokens.js';

/** The `users` plugin: accounts, sign-up with email verification, sign-in, profile, administration, password reset. */
export const plugin = definePlugin({
  name: 'users',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'Accounts: sign-up with email verification, sign-in (tokens or cookie session), profile, admin CRUD, password reset, disable; argon2id passwords',
  dependsOn: ['http', 'database', 'auth-jwt', 'mailer', 'audit', 'rbac'],
  optionalDependsOn: ['sessions-redis', 'rate-limit', 'kafka-events'],
  requires: [DatabaseToken, AuthJwtToken, MailerToken, AuditToken, RbacToken],
  provides: [UsersToken],
  config: usersConfigSchema,
  register(ctx) {
    const db = ctx.container.get(DatabaseToken);
    db.registerEntities([UserEntity, UserTokenEntity]);
    db.registerMigrations('users', usersMigrations);
    const mailer = ctx.container.get(MailerToken);
    mailer.registerTemplate(ACCOUNT_EXISTS_TEMPLATE, {
      // No name: the account's may have been typed by whoever signed up with this address before it was verified.
      data: z
        .object({
          reset: z
            .object({ link: z.string(), expiresInMinutes: z.number().int().positive(), forgotLink: z.string() })
            .optional(),
        })
        .strict(),
      subject: () => 'Someone tried to create an account with your address',
      text: (d) =>
        [
          'Hello,',
          '',
          'Someone tried to sign up with this email address, which already has an account. If it was you, sign in instead.',
          ...(d.reset
            ? [
                '',
                `If you forgot your password, choose a new one with this link within ${d.reset.expiresInMinutes} minutes:`,
                '',
                d.reset.link,
                '',
                `Later, ask for a new link here: ${d.reset.forgotLink}`,
              ]
            : []),
          '',
          'If it was not you, ignore this mail: your account and its password are unchanged.',
        ].join('\n'),
    });
    const tokens = ctx.container.get(AuthJwtToken);
    const rbac = ctx.container.get(RbacToken);
    const sessions = ctx.container.tryGet(SessionsToken);
    const users = new UsersService({
      db,
      config: ctx.config,
      hasher: new PasswordHasher(ctx.config.argon2),
      policy: new PasswordPolicy(),
      tokens,
      mailer,
      audit: ctx.container.get(AuditToken),
      rbac,
      sessions,
      logger: ctx.logger,
      events: new UserEvents(ctx.container.tryGet(EventsToken)),
    });
    ctx.provide(UsersToken, users);
    // A token login listed by sessions-redis and revoked there ends its refresh family too.
    sessions?.onRevoke(async (session) => {
      if (session.kind === 'token') await tokens.revokeFamily(session.id);
    });

    const deps = { http: ctx.http, users, tokens, rbac, db, sessions, config: ctx.config };
    authRoutes(deps);
    userRoutes(deps);

    ctx.lifecycle.hook({ name: 'background-mail', start: () => undefined, stop: () => users.drain() });
    ctx.health.check(
      () => ({ status: 'up', details: { signup: ctx.config.signup, sessions: sessions ? 'cookie+token' : 'token' } }),
      { critical: false },
    );
  },
});
