import path from 'node:path';
import { definePlugin, packageVersion } from '@gantry/core';
import { builtinTemplates } from './builtin-templates.js';
import { mailerConfigSchema, resolveTransport } from './config.js';
import { FileDelivery, SmtpDelivery, smtpTarget, type Delivery } from './delivery.js';
import { MailerErrors } from './errors.js';
import { lastMailCommand } from './mail-command.js';
import { MailerService } from './mailer-service.js';
import { MailerToken } from './tokens.js';

/** The `mailer` plugin: templated mail over SMTP (nodemailer), or `.eml` files in the embedded profile. */
export const plugin = definePlugin({
  name: 'mailer',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'Templated transactional mail: nodemailer SMTP, or RFC 5322 .eml files in the embedded profile; links built from a configured base URL',
  provides: [MailerToken],
  config: mailerConfigSchema,
  validate(config, { profile }) {
    // The schema requires smtpUrl for an explicit "smtp"; "auto" only becomes smtp with the profile.
    if (resolveTransport(config.transport, profile) === 'smtp' && config.smtpUrl === undefined) {
      return [
        MailerErrors.CONFIG_INVALID(
          `option "smtpUrl" is required: transport "auto" means smtp in profile "${profile}"`,
        ),
      ];
    }
    return [];
  },
  register(ctx) {
    const { config } = ctx;
    const kind = resolveTransport(config.transport, ctx.profile);
    let delivery: Delivery;
    if (kind === 'smtp') {
      // validate() refused a missing smtpUrl before anything registered.
      delivery = new SmtpDelivery({
        url: config.smtpUrl!,
        secure: config.secure,
        requireTLS: config.requireTLS,
        pool: config.pool,
        sendTimeoutMs: config.sendTimeoutMs,
      });
    } else {
      const dir = path.resolve(ctx.appDir, config.outDir);
      delivery = new FileDelivery(dir);
      ctx.command(
        'mail:last',
        (args) => lastMailCommand(dir, args, (line) => void process.stdout.write(`${line}\n`)),
        'Print the newest mail(s) the file transport wrote, decoded: mail:last [n]',
      );
    }
    const mailer = new MailerService({ config, delivery, logger: ctx.logger });
    const builtins = builtinTemplates(mailer.baseUrl);
    mailer.registerTemplate('verify-email', builtins['verify-email']);
    mailer.registerTemplate('password-reset', builtins['password-reset']);
    mailer.registerTemplate('new-login', builtins['new-login']);
    ctx.provide(MailerToken, mailer);

    // Plugins that depend on "mailer" register their templates before this hook closes registration.
    ctx.lifecycle.hook({
      name: 'mailer',
      async start() {
        await mailer.start();
        ctx.logger.info(
          {
            transport: kind,
            ...(kind === 'smtp'
              ? { server: smtpTarget(config.smtpUrl!) }
              : { outDir: path.resolve(ctx.appDir, config.outDir) }),
            templates: mailer.templateNames(),
          },
          'mailer started',
        );
      },
      stop: () => mailer.stop(),
      // Start probes the SMTP server once and stop waits for sends in flight: both are bounded by sendTimeoutMs.
      timeoutMs: config.sendTimeoutMs + 5_000,
    });
    // Not critical: without mail the app still serves; the outage is reported, not fatal.
    ctx.health.check(() => mailer.health(), { critical: false, timeoutMs: config.sendTimeoutMs + 1_000 });
  },
});
