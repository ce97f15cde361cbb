import { z } from 'zod';
import { parseMailbox } from './addresses.js';

/** Where the file transport writes `.eml` files when `outDir` is not set (relative to the app folder). */
export const DEFAULT_MAIL_DIR = 'var/mail';

/** The transports the mailer can use once `auto` is resolved against the profile. */
export type TransportKind = 'smtp' | 'file';

/** Options of the `mailer` plugin (config key `mailer`, env `GANTRY_MAILER__<KEY>`). */
export const mailerConfigSchema = z
  .object({
    transport: z
      .enum(['auto', 'smtp', 'file'])
      .default('auto')
      .describe(
        'How mail leaves: `smtp` (nodemailer SMTP), `file` (`.eml` files under outDir), or `auto`: `file` in the `embedded` profile, `smtp` in every other profile',
      ),
    smtpUrl: z
      .string()
      .refine(
        isSmtpUrl,
        'must be an SMTP URL such as smtp://user:password@mail.example:587 or smtps://mail.example:465',
      )
      .optional()
      .describe(
        'SMTP server URL `smtp://user:password@host:587` (STARTTLS when offered) or `smtps://host:465` (TLS from the first byte); user and password are URL-encoded. A secret: no default; set it through GANTRY_MAILER__SMTP_URL. Required when the transport is smtp',
      ),
    secure: z
      .boolean()
      .optional()
      .describe(
        'Use TLS from the first byte (implicit TLS, usually port 465). Default: true for smtps:// URLs, false for smtp:// URLs',
      ),
    requireTLS: z
      .boolean()
      .default(false)
      .describe(
        'With a plain smtp:// connection, refuse to send unless the server upgrades it with STARTTLS (recommended in production: mails carry one-time links)',
      ),
    pool: z
      .boolean()
      .default(false)
      .describe(
        'Keep SMTP connections open and reuse them for the next mails (nodemailer pooled transport) instead of one connection per mail',
      ),
    from: z
      .string()
      .refine(
        (v) => parseMailbox(v) !== undefined,
        'must be one address, "noreply@example.com" or "Example <noreply@example.com>"',
      )
      .describe(
        'Sender of every mail (From header and SMTP envelope sender), "noreply@example.com" or "Example <noreply@example.com>"',
      ),
    baseUrl: z
      .string()
      .refine(
        isBaseUrl,
        'must be an absolute http:// or https:// URL without credentials, query or fragment, e.g. https://app.example.com',
      )
      .describe(
        'Public base URL of the application, the only origin of links in mails (mailer.link()); never taken from a request Host header. May carry a path prefix: https://example.com/app',
      ),
    outDir: z
      .string()
      .min(1)
      .default(DEFAULT_MAIL_DIR)
      .describe('File transport: folder of the `.eml` files, relative to the app folder (created at start)'),
    sendTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(10_000)
      .describe(
        'SMTP: longest a send may take as a whole (connect, greeting, TLS, login, transfer), and each step of the readiness probe, before failing with GANTRY_MAILER_UNAVAILABLE',
      ),
    defaultLocale: z
      .string()
      .refine(isLocale, 'must be a BCP 47 language tag such as "en" or "fr-CA"')
      .default('en')
      .describe('Locale handed to templates when send() is called without one (BCP 47, e.g. "en", "fr-CA")'),
  })
  .strict()
  .superRefine((c, issue) => {
    if (c.transport === 'smtp' && c.smtpUrl === undefined) {
      issue.addIssue({
        code: 'custom',
        path: ['smtpUrl'],
        message: 'is required when transport is "smtp" (set GANTRY_MAILER__SMTP_URL=smtp://user:password@host:587)',
      });
    }
  });

/** Validated options of the `mailer` plugin. */
export type MailerConfig = z.output<typeof mailerConfigSchema>;

/**
 * The transport actually used: `auto` is `file` in the `embedded` profile and `smtp` elsewhere.
 * Done here rather than in the schema because the kernel validates options without the profile.
 */
export function resolveTransport(transport: MailerConfig['transport'], profile: string): TransportKind {
  if (transport !== 'auto') return transport;
  return profile === 'embedded' ? 'file' : 'smtp';
}

function isSmtpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname.length > 0;
  } catch {
    return false;
  }
}

function isBaseUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'http:' || url.protocol === 'https:') &&
      url.hostname.length > 0 &&
      !url.username &&
      !url.password &&
      !url.search &&
      !url.hash &&
      !value.includes('?') &&
      !value.includes('#')
    );
  } catch {
    return false;
  }
}

function isLocale(value: string): boolean {
  try {
    return Intl.getCanonicalLocales(value).length === 1;
  } catch {
    return false;
  }
}
