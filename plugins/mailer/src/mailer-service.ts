import { GantryError, type HealthResult, type Logger } from '@gantry/core';
import { checkRecipients, headerSafe, parseMailbox, type MailAddress, type Recipients } from './addresses.js';
import type { MailerConfig, TransportKind } from './config.js';
import type { Delivery } from './delivery.js';
import { MailerErrors } from './errors.js';
import { isSafeHtml } from './safe-html.js';
import type { MailTemplate, RenderedMail, TemplateContext, TemplateDataFor } from './templates.js';

/** Query parameters of a link: undefined and null values are left out. */
export type LinkParams = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** What send() takes. */
export interface SendOptions<K extends string = string> {
  readonly to: Recipients;
  /** Name of a registered template. */
  readonly template: K;
  readonly data: TemplateDataFor<K>;
  /** BCP 47 locale handed to the template (default: the `defaultLocale` option). */
  readonly locale?: string;
}

/** What send() reports once the message left (SMTP accepted it, or its file is written). */
export interface SendResult {
  readonly messageId: string;
  readonly template: string;
  readonly to: readonly string[];
  /** File transport: the `.eml` file written. */
  readonly file?: string;
}

/** Options of {@link Mailer.registerTemplate}. */
export interface RegisterTemplateOptions {
  /** Replace a template registered under that name (a built-in one, to rebrand it). */
  readonly override?: boolean;
}

/** The mail service other plugins use (MailerToken). */
export interface Mailer {
  /** The transport in use (`auto` resolved against the profile). */
  readonly transport: TransportKind;
  /** The `baseUrl` option without a trailing slash: the only origin of links in mails. */
  readonly baseUrl: string;
  /** Adds a template; only while plugins register (register() of a plugin that depends on `mailer`). */
  registerTemplate<D>(name: string, template: MailTemplate<D>, options?: RegisterTemplateOptions): void;
  /** Names of the registered templates, built-in ones included. */
  templateNames(): readonly string[];
  /** An absolute link under `baseUrl`: `link('/verify-email', { token })` → `https://app.example/verify-email?token=...`. */
  link(path: string, params?: LinkParams): string;
  /** Renders a template without sending it (previews, tests). */
  render<K extends string>(template: K, data: TemplateDataFor<K>, locale?: string): RenderedMail;
  /** Renders a template and sends it; rejects with a GANTRY_MAILER_* error. */
  send<K extends string>(message: SendOptions<K>): Promise<SendResult>;
}

/** The last send() outcome, shown in readiness details. */
interface LastSend {
  readonly outcome: 'sent' | 'failed';
  readonly at: string;
  readonly template: string;
  readonly code?: string;
}

const TEMPLATE_NAME = /^[a-z0-9]+(?:[-.][a-z0-9]+)*$/;
// RFC 3986 path characters only (percent-escapes allowed); no "//" start, no query or fragment.
const LINK_PATH = /^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/** Options of {@link MailerService}. */
export interface MailerServiceOptions {
  readonly config: MailerConfig;
  readonly delivery: Delivery;
  readonly logger: Logger;
}

/** The {@link Mailer} implementation: template registry, rendering, recipients, delivery state. */
export class MailerService implements Mailer {
  readonly transport: TransportKind;
  readonly baseUrl: string;
  private readonly templates = new Map<string, MailTemplate<never>>();
  private readonly from: MailAddress;
  private readonly defaultLocale: string;
  private readonly logger: Logger;
  private readonly delivery: Delivery;
  private state: 'registering' | 'started' | 'stopped' = 'registering';
  private server: { readonly reachable: boolean | undefined; readonly reason?: string } = { reachable: undefined };
  private lastSend: LastSend | undefined;
  private probing: Promise<void> | undefined;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(options: MailerServiceOptions) {
    const { config } = options;
    this.delivery = options.delivery;
    this.transport = options.delivery.kind;
    this.logger = options.logger;
    const base = new URL(config.baseUrl);
    this.baseUrl = base.origin + base.pathname.replace(/\/+$/, '');
    // Handed to nodemailer as { name, address }: it quotes or encodes the display name itself.
    this.from = parseMailbox(config.from)!;
    this.defaultLocale = Intl.getCanonicalLocales(config.defaultLocale)[0]!;
  }

  registerTemplate<D>(name: string, template: MailTemplate<D>, options: RegisterTemplateOptions = {}): void {
    if (this.state !== 'registering') {
      throw MailerErrors.REGISTRATION_CLOSED(`mailer: template "${name}" registered after the mailer started`);
    }
    if (typeof name !== 'string' || name.length > 100 || !TEMPLATE_NAME.test(name)) {
      throw MailerErrors.TEMPLATE_INVALID(`mailer: template name ${JSON.stringify(name)} is invalid`);
    }
    const t = template as Partial<MailTemplate<D>> | undefined;
    const problems = [
      typeof t?.subject !== 'function' ? 'subject(data) is missing' : '',
      typeof t?.text !== 'function' ? 'text(data) is missing' : '',
      t?.html !== undefined && typeof t.html !== 'function' ? 'html is not a function' : '',
      t?.data !== undefined && typeof (t.data as { safeParse?: unknown }).safeParse !== 'function'
        ? 'data is not a zod schema'
        : '',
    ].filter(Boolean);
    if (problems.length > 0)
      throw MailerErrors.TEMPLATE_INVALID(`mailer: template "${name}" is invalid: ${problems.join(', ')}`);
    if (this.templates.has(name) && !options.override) {
      throw MailerErrors.TEMPLATE_DUPLICATE(`mailer: template "${name}" is already registered`);
    }
    this.templates.set(name, template as MailTemplate<never>);
  }

  templateNames(): readonly string[] {
    return [...this.templates.keys()];
  }

  link(path: string, params: LinkParams = {}): string {
    if (typeof path !== 'string' || !LINK_PATH.test(path) || path.split('/').some((s) => s === '.' || s === '..')) {
      throw MailerErrors.LINK_INVALID(
        `mailer: link path ${JSON.stringify(path)} is not a plain absolute path such as "/verify-email"`,
      );
    }
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw MailerErrors.LINK_INVALID(`mailer: link parameter "${key}" must be a string, number or boolean`);
      }
      query.append(key, String(value));
    }
    const qs = query.toString();
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`;
  }

  render<K extends string>(template: K, data: TemplateDataFor<K>, locale?: string): RenderedMail {
    const t = this.templates.get(template);
    if (!t)
      throw MailerErrors.TEMPLATE_UNKNOWN(
        `mailer: no template named ${JSON.stringify(template)} (registered: ${this.templateNames().join(', ')})`,
      );
    const ctx: TemplateContext = { locale: this.locale(locale), baseUrl: this.baseUrl };
    let input: unknown = data;
    if (t.data) {
      const parsed = t.data.safeParse(data);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`);
        throw MailerErrors.DATA_INVALID(`mailer: data of template "${template}" is invalid: ${issues.join('; ')}`, {
          details: { template, issues },
        });
      }
      input = parsed.data;
    }
    const typed = input as never;
    let subject: unknown, text: unknown, html: unknown;
    try {
      subject = t.subject(typed, ctx);
      text = t.text(typed, ctx);
      html = t.html?.(typed, ctx);
    } catch (err) {
      if (GantryError.is(err)) throw err;
      throw MailerErrors.RENDER_FAILED(
        `mailer: template "${template}" threw: ${(err as Error)?.message ?? String(err)}`,
        { cause: err, details: { template } },
      );
    }
    if (typeof subject !== 'string' || typeof text !== 'string') {
      throw MailerErrors.TEMPLATE_INVALID(`mailer: template "${template}": subject() and text() must return strings`);
    }
    if (html !== undefined && !isSafeHtml(html)) {
      // A plain string could carry unescaped user input: only the html`...` tag is accepted.
      throw MailerErrors.TEMPLATE_INVALID(
        `mailer: template "${template}": html() must return the html\`...\` tag of @gantry/plugin-mailer, not a string`,
      );
    }
    return { subject: headerSafe(subject), text, ...(html === undefined ? {} : { html: html.toString() }) };
  }

  send<K extends string>(message: SendOptions<K>): Promise<SendResult> {
    const p = this.sendNow(message);
    this.inflight.add(p);
    // The set only tracks; the caller gets the outcome through `p`.
    void p.then(
      () => this.inflight.delete(p),
      () => this.inflight.delete(p),
    );
    return p;
  }

  private async sendNow<K extends string>(message: SendOptions<K>): Promise<SendResult> {
    if (this.state !== 'started')
      throw MailerErrors.NOT_STARTED(
        `mailer: send() called ${this.state === 'stopped' ? 'after stop' : 'before start'}`,
      );
    const template = message?.template;
    const checked = checkRecipients(message?.to);
    if (!checked.ok) throw MailerErrors.INVALID_RECIPIENT(`mailer: ${checked.problem}`);
    const rendered = this.render(template, message.data, message.locale);
    const to = checked.recipients.map((r: MailAddress) => r.address);
    try {
      const delivered = await this.delivery.deliver({ from: this.from, to: checked.recipients, ...rendered });
      this.lastSend = { outcome: 'sent', at: new Date().toISOString(), template };
      if (this.transport === 'smtp') this.server = { reachable: true };
      // Never the data or the rendered text at info level: links in them are credentials.
      this.logger.info(
        { to, template, messageId: delivered.messageId, ...(delivered.file ? { file: delivered.file } : {}) },
        delivered.file ? 'mail written to file' : 'mail sent',
      );
      return { messageId: delivered.messageId, template, to, ...(delivered.file ? { file: delivered.file } : {}) };
    } catch (err) {
      const e = GantryError.is(err)
        ? err
        : MailerErrors.UNAVAILABLE(`mailer: delivery failed: ${(err as Error)?.message ?? String(err)}`, {
            cause: err,
            details: { reason: 'unknown' },
          });
      this.lastSend = { outcome: 'failed', at: new Date().toISOString(), template, code: e.code };
      if (this.transport === 'smtp' && MailerErrors.UNAVAILABLE.is(e))
        this.server = { reachable: false, reason: String(e.details.reason ?? 'unknown') };
      this.logger.warn(
        {
          to,
          template,
          code: e.code,
          reason: e.details.reason ?? e.details.responseCode,
          err: (e.cause as Error | undefined)?.message,
        },
        'mail not sent',
      );
      throw e;
    }
  }

  /** Start hook: closes template registration, starts the transport, checks the server once. */
  async start(): Promise<void> {
    this.state = 'started';
    await this.delivery.start();
    if (this.transport === 'smtp') await this.probe();
  }

  /** Stop hook: refuses new sends, waits for those in flight (each bounded by sendTimeoutMs), closes the transport. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    await Promise.allSettled([...this.inflight, this.probing]);
    await this.delivery.stop();
  }

  /** Readiness: `degraded` while the SMTP server does not answer (probed again on each check) or the last file write failed. */
  async health(): Promise<HealthResult> {
    const lastSend = this.lastSend ?? null;
    if (this.transport === 'file') {
      return { status: lastSend?.outcome === 'failed' ? 'degraded' : 'up', details: { transport: 'file', lastSend } };
    }
    // While the server is down every check probes it: readiness recovers on its own once it answers.
    if (this.state === 'started' && this.server.reachable !== true) await this.probe();
    const { reachable, reason } = this.server;
    return {
      status: reachable === true ? 'up' : 'degraded',
      details: {
        transport: 'smtp',
        server: reachable === undefined ? 'unknown' : reachable ? 'reachable' : 'unreachable',
        ...(reason ? { error: reason } : {}),
        lastSend,
      },
    };
  }

  /** One probe at a time: concurrent readiness checks share it. */
  private probe(): Promise<void> {
    this.probing ??= this.delivery
      .probe()
      .then((result) => {
        const was = this.server.reachable;
        if (result.ok) {
          this.server = { reachable: true };
          if (was === false) this.logger.info('mail server reachable again');
        } else {
          const reason = String(result.error.details.reason ?? result.error.code);
          this.server = { reachable: false, reason };
          if (was !== false) {
            this.logger.warn(
              { code: result.error.code, reason, err: (result.error.cause as Error | undefined)?.message },
              'mail server unreachable: mail fails with GANTRY_MAILER_UNAVAILABLE until it answers',
            );
          }
        }
      })
      .finally(() => {
        this.probing = undefined;
      });
    return this.probing;
  }

  private locale(requested: string | undefined): string {
    if (requested === undefined) return this.defaultLocale;
    try {
      const [canonical] = Intl.getCanonicalLocales(requested);
      if (canonical) return canonical;
    } catch {
      // reported below
    }
    throw MailerErrors.LOCALE_INVALID(
      `mailer: locale ${JSON.stringify(requested)?.slice(0, 40)} is not a BCP 47 language tag`,
    );
  }
}
