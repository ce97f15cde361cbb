import type { ZodType } from 'zod';
import type { SafeHtml } from './safe-html.js';

/** What a template gets besides its data. */
export interface TemplateContext {
  /** Canonical BCP 47 locale of this mail (send()'s `locale`, else the `defaultLocale` option). */
  readonly locale: string;
  /** The `baseUrl` option, without a trailing slash. */
  readonly baseUrl: string;
}

/**
 * A named mail template. `subject` becomes a header: line breaks and control characters in it are
 * replaced by spaces. `html` must be built with the html`...` tag, which escapes every value.
 */
export interface MailTemplate<D = Record<string, unknown>> {
  /** Checks the data before rendering (a failure is GANTRY_MAILER_DATA_INVALID); recommended. */
  readonly data?: ZodType<D>;
  subject(data: D, ctx: TemplateContext): string;
  text(data: D, ctx: TemplateContext): string;
  html?(data: D, ctx: TemplateContext): SafeHtml;
}

/** A template's output, as it goes into the message. */
export interface RenderedMail {
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
}

/** Data of the built-in `verify-email` template. */
export interface VerifyEmailData {
  /** The user's display name (may be empty). */
  readonly name: string;
  /** Verification link, built with mailer.link(). */
  readonly link: string;
}

/** Data of the built-in `password-reset` template. */
export interface PasswordResetData {
  readonly name: string;
  /** Reset link, built with mailer.link(). */
  readonly link: string;
  /** How long the link stays valid, shown to the user. */
  readonly expiresInMinutes: number;
}

/** Data of the built-in `new-login` template. */
export interface NewLoginData {
  readonly name: string;
  /** When the sign-in happened (a Date or an ISO 8601 string); shown in UTC. */
  readonly when: Date | string;
  /** Client IP address of the sign-in. */
  readonly ip: string;
  /** Client user agent of the sign-in. */
  readonly userAgent: string;
}

/**
 * Data type per template name, for typed send() calls. Plugins that register templates may add
 * theirs: `declare module '@gantry/plugin-mailer' { interface MailTemplateData { 'users.welcome': { name: string } } }`.
 */
export interface MailTemplateData {
  'verify-email': VerifyEmailData;
  'password-reset': PasswordResetData;
  'new-login': NewLoginData;
}

/** The data send() accepts for template `K`. */
export type TemplateDataFor<K extends string> = K extends keyof MailTemplateData
  ? MailTemplateData[K]
  : Readonly<Record<string, unknown>>;
