import { definePlugin, type Plugin } from '@gantry/core';
import { z } from 'zod';
import { MailerToken, type Mailer } from '../../src/index.js';

/**
 * A plugin like the users plugin will be: `POST /api/v1/signup` sends `verify-email` with a link
 * built by mailer.link(), and answers 202. `setup` runs in its register() (templates).
 */
export function signupPlugin(setup?: (mailer: Mailer) => void): Plugin {
  return definePlugin({
    name: 'signup',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http', 'mailer'],
    register(ctx) {
      const mailer = ctx.container.get(MailerToken);
      setup?.(mailer);
      ctx.health.check(() => ({ status: 'up' }));
      ctx.http.post(
        '/signup',
        { status: 202, schema: { body: z.object({ email: z.string(), name: z.string(), token: z.string() }) } },
        async (req) => {
          await mailer.send({
            to: req.body.email,
            template: 'verify-email',
            data: { name: req.body.name, link: mailer.link('/verify-email', { token: req.body.token }) },
          });
          return { sent: true };
        },
      );
    },
  });
}

/** A plugin without routes whose register() gets the mailer (templates, sends before start). */
export function templatesPlugin(setup: (mailer: Mailer) => void): Plugin {
  return definePlugin({
    name: 'mail-user',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['mailer'],
    register(ctx) {
      setup(ctx.container.get(MailerToken));
    },
  });
}

export { memoryLogger, type LogLine } from '@gantry/testing';
