/** @gantry/plugin-mailer: templated transactional mail for Gantry (nodemailer SMTP, or .eml files when embedded). */
export { plugin } from './plugin.js';
export {
  mailerConfigSchema,
  resolveTransport,
  DEFAULT_MAIL_DIR,
  type MailerConfig,
  type TransportKind,
} from './config.js';
export { MailerErrors } from './errors.js';
export { MailerToken } from './tokens.js';
export type { LinkParams, Mailer, RegisterTemplateOptions, SendOptions, SendResult } from './mailer-service.js';
export type {
  MailTemplate,
  MailTemplateData,
  NewLoginData,
  PasswordResetData,
  RenderedMail,
  TemplateContext,
  TemplateDataFor,
  VerifyEmailData,
} from './templates.js';
export { BUILTIN_TEMPLATES } from './builtin-templates.js';
export { escapeHtml, html, isSafeHtml, type SafeHtml } from './safe-html.js';
export { MAX_RECIPIENTS, type MailAddress, type Recipients } from './addresses.js';
