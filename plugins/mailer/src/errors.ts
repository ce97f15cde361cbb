import { defineErrors } from '@gantry/core';

/** Error registry of the `mailer` plugin (codes `GANTRY_MAILER_<REASON>`). Retired codes are never reused. */
export const MailerErrors = defineErrors('mailer', {
  UNAVAILABLE: {
    status: 503,
    title: 'Mail server unavailable',
    fix: 'retry later; operators: check that the SMTP server in mailer.smtpUrl is up, reachable and accepts the credentials (see /readyz and the "mail not sent" log lines)',
  },
  SEND_FAILED: {
    status: 502,
    title: 'Mail server rejected the message',
    fix: 'the SMTP server refused this message for good (reply code in the details): check the recipient and the sender address (mailer.from) the server accepts',
  },
  INVALID_RECIPIENT: {
    status: 400,
    title: 'Invalid mail recipient',
    fix: 'give one to 50 plain addresses (local@domain.tld), as strings or { name, address }',
  },
  LOCALE_INVALID: {
    status: 400,
    title: 'Invalid mail locale',
    fix: 'pass a BCP 47 language tag such as "en" or "fr-CA", or none to use mailer.defaultLocale',
  },
  TEMPLATE_UNKNOWN: {
    status: 500,
    title: 'Unknown mail template',
    fix: 'register the template with mailer.registerTemplate(name, ...) in register() of a plugin that lists "mailer" in dependsOn, or correct its name',
  },
  TEMPLATE_DUPLICATE: {
    status: 500,
    title: 'Mail template registered twice',
    fix: 'rename one of the templates, or pass { override: true } to replace the existing one on purpose',
  },
  TEMPLATE_INVALID: {
    status: 500,
    title: 'Mail template is invalid',
    fix: 'a template name is lowercase letters, digits, "-" and "." (e.g. "users.welcome"); a template has subject(data) and text(data) returning strings, and html(data), when present, returning the html`...` tag of @gantry/plugin-mailer',
  },
  RENDER_FAILED: {
    status: 500,
    title: 'Mail template failed to render',
    fix: 'the template threw: correct the template named in the message (its cause is attached)',
  },
  DATA_INVALID: {
    status: 500,
    title: 'Mail template data is invalid',
    fix: "pass the data the template's schema asks for (listed in the message); links must be built with mailer.link()",
  },
  LINK_INVALID: {
    status: 500,
    title: 'Mail link path is invalid',
    fix: 'pass mailer.link() a path that starts with one "/" (e.g. "/verify-email"), without scheme, host, query or fragment; put parameters in its second argument',
  },
  REGISTRATION_CLOSED: {
    status: 500,
    title: 'Mail template registered too late',
    fix: 'call mailer.registerTemplate() inside register() of a plugin that lists "mailer" in dependsOn',
  },
  NOT_STARTED: {
    status: 500,
    title: 'Mailer used before start or after stop',
    fix: 'send mail from request handlers, commands or start hooks of plugins that list "mailer" in dependsOn, not in register()',
  },
  CONFIG_INVALID: {
    status: 500,
    title: 'Mailer options are incomplete for this profile',
    fix: 'set mailer.smtpUrl (GANTRY_MAILER__SMTP_URL) for this profile, or set mailer.transport to "file"',
  },
  OUTDIR_FAILED: {
    status: 500,
    title: 'Mail folder cannot be created',
    fix: 'point mailer.outDir at a folder the process may create and write, or fix the permissions of the one named in the message',
  },
});
