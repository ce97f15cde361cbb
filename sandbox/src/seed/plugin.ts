import { definePlugin } from '@gantry/core';
import { ADMIN_ROLE, USER_ROLE } from '@gantry/plugin-rbac';
import { UsersToken } from '@gantry/plugin-users';
import { z } from 'zod';

/**
 * Seeds one administrator from SANDBOX_ADMIN_EMAIL / SANDBOX_ADMIN_PASSWORD when both are set and no
 * account has that email. There is no default password anywhere: without both variables nothing is seeded.
 */
export const plugin = definePlugin({
  name: 'seed',
  version: '0.1.0',
  kernel: '^0.1.0',
  description: 'Sandbox: seeds the administrator account from the environment',
  dependsOn: ['users'],
  requires: [UsersToken],
  config: z.object({}).strict(),
  register(ctx) {
    const users = ctx.container.get(UsersToken);
    let seeded: 'created' | 'exists' | 'skipped' = 'skipped';
    ctx.lifecycle.hook({
      name: 'admin-account',
      start: async () => {
        const email = process.env.SANDBOX_ADMIN_EMAIL;
        const password = process.env.SANDBOX_ADMIN_PASSWORD;
        if (!email || !password) {
          ctx.logger.info('no administrator seeded: set SANDBOX_ADMIN_EMAIL and SANDBOX_ADMIN_PASSWORD to create one');
          return;
        }
        const { user, created } = await users.ensureAccount({
          email,
          password,
          name: 'Administrator',
          roles: [ADMIN_ROLE, USER_ROLE],
        });
        seeded = created ? 'created' : 'exists';
        ctx.logger.info(
          { userId: user.id, created },
          created ? 'administrator account seeded' : 'administrator account already exists: left unchanged',
        );
      },
    });
    ctx.health.check(() => ({ status: 'up', details: { admin: seeded } }), { critical: false });
  },
});
