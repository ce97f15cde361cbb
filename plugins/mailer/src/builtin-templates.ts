import { z } from 'zod';
import { headerSafe } from './addresses.js';
import { html, type SafeHtml } from './safe-html.js';
import type { MailTemplate, NewLoginData, PasswordResetData, VerifyEmailData } from './templates.js';

/** Names of the templates the plugin ships. */
export const BUILTIN_TEMPLATES = ['verify-email', 'password-reset', 'new-login'] as const;

// User-supplied values (names, user agents) never go into subjects: a sign-up with someone else's
// address and a "name" that is an advert would otherwise let strangers write our subject lines.
// In bodies they are single lines, so a name cannot forge extra paragraphs.
const line = (max: number) => z.string().max(max).transform(headerSafe);

/** The built-in templates; links must point under `baseUrl` (they are built with mailer.link()). */
export function builtinTemplates(baseUrl: string): {
  'verify-email': MailTemplate<VerifyEmailData>;
  'password-reset': MailTemplate<PasswordResetData>;
  'new-login': MailTemplate<NewLoginData>;
} {
  const link = z
    .string()
    .refine(
      (v) => isUnder(v, baseUrl),
      `must be a link under the baseUrl option (${baseUrl}), built with mailer.link()`,
    );
  return {
    'verify-email': {
      data: z.object({ name: line(200), link }),
      subject: () => 'Verify your email address',
      text: (d) =>
        [
          greeting(d.name),
          '',
          'Please confirm your email address by opening this link:',
          '',
          d.link,
          '',
          'If you did not create an account, ignore this mail.',
        ].join('\n'),
      html: (d) =>
        layout(
          'Verify your email address',
          html`<p>${greeting(d.name)}</p>
<p>Please confirm your email address:</p>
<p><a href="${d.link}">Verify my email address</a></p>
<p>Or copy this link into your browser:<br>${d.link}</p>
<p>If you did not create an account, ignore this mail.</p>`,
        ),
    },
    'password-reset': {
      data: z.object({ name: line(200), link, expiresInMinutes: z.number().int().positive() }),
      subject: () => 'Reset your password',
      text: (d) =>
        [
          greeting(d.name),
          '',
          `Someone, hopefully you, asked to reset the password of your account. Open this link within ${minutes(d.expiresInMinutes)} to choose a new password:`,
          '',
          d.link,
          '',
          'If you did not ask for this, ignore this mail: your password stays as it is.',
        ].join('\n'),
      html: (d) =>
        layout(
          'Reset your password',
          html`<p>${greeting(d.name)}</p>
<p>Someone, hopefully you, asked to reset the password of your account. Open this link within ${minutes(d.expiresInMinutes)} to choose a new password:</p>
<p><a href="${d.link}">Choose a new password</a></p>
<p>Or copy this link into your browser:<br>${d.link}</p>
<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>`,
        ),
    },
    'new-login': {
      data: z.object({
        name: line(200),
        when: z
          .union([z.date(), z.iso.datetime({ offset: true })])
          .transform((v) => (typeof v === 'string' ? new Date(v) : v)),
        ip: line(100),
        userAgent: line(500),
      }),
      subject: () => 'New sign-in to your account',
      text: (d, ctx) =>
        [
          greeting(d.name),
          '',
          'Your account was just signed in to:',
          '',
          `When: ${formatWhen(d.when, ctx.locale)}`,
          `IP address: ${d.ip}`,
          `Device: ${d.userAgent}`,
          '',
          'If this was you, there is nothing to do. If not, change your password now and sign out of your other sessions.',
        ].join('\n'),
      html: (d, ctx) =>
        layout(
          'New sign-in to your account',
          html`<p>${greeting(d.name)}</p>
<p>Your account was just signed in to:</p>
<table role="presentation">
<tr><td>When</td><td>${formatWhen(d.when, ctx.locale)}</td></tr>
<tr><td>IP address</td><td>${d.ip}</td></tr>
<tr><td>Device</td><td>${d.userAgent}</td></tr>
</table>
<p>If this was you, there is nothing to do. If not, change your password now and sign out of your other sessions.</p>`,
        ),
    },
  };
}

/** True when `link` is `baseUrl` itself or a URL below it (path, query or fragment after it). */
export function isUnder(link: string, baseUrl: string): boolean {
  if (!link.startsWith(baseUrl)) return false;
  const next = link.charAt(baseUrl.length);
  return next === '' || next === '/' || next === '?' || next === '#';
}

function greeting(name: string): string {
  return name ? `Hello ${name},` : 'Hello,';
}

function minutes(n: number): string {
  return `${n} minute${n === 1 ? '' : 's'}`;
}

/**
 * One formatter per locale: building an `Intl.DateTimeFormat` costs ~200 µs (ICU loads the locale's
 * patterns), formatting with a built one ~4 µs. Locales come from callers (canonical BCP 47 tags), so
 * the cache is bounded: past {@link MAX_FORMATTERS} locales it starts over.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();
const MAX_FORMATTERS = 64;

function formatWhen(when: Date | string, locale: string): string {
  const date = typeof when === 'string' ? new Date(when) : when;
  let formatter = formatters.get(locale);
  if (!formatter) {
    if (formatters.size >= MAX_FORMATTERS) formatters.clear();
    formatter = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'long', timeZone: 'UTC' });
    formatters.set(locale, formatter);
  }
  return formatter.format(date);
}

function layout(title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #222; max-width: 36em; margin: 0 auto; padding: 1em;">
${body}
</body></html>`;
}
