import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GantryError } from '@gantry/core';
import type nodemailer from 'nodemailer';
import type { MailAddress } from './addresses.js';
import type { TransportKind } from './config.js';
import { MailerErrors } from './errors.js';

/** A fully rendered message, ready for a transport. */
export interface OutgoingMail {
  readonly from: MailAddress;
  readonly to: readonly MailAddress[];
  readonly subject: string;
  readonly text: string;
  readonly html?: string;
}

/** What a transport reports for a delivered message. */
export interface Delivered {
  readonly messageId: string;
  /** File transport: the `.eml` file written. */
  readonly file?: string;
}

/** The outcome of checking that the mail server answers. */
export type ProbeResult = { readonly ok: true } | { readonly ok: false; readonly error: GantryError };

/** A way for mail to leave: built once at start, closed at stop. */
export interface Delivery {
  readonly kind: TransportKind;
  start(): Promise<void>;
  /** Sends one message; failures are GantryErrors of the mailer registry. */
  deliver(mail: OutgoingMail): Promise<Delivered>;
  /** Checks the server answers (SMTP) or the folder exists (file); never throws. */
  probe(): Promise<ProbeResult>;
  stop(): Promise<void>;
}

// RFC 3834: automated mail; keeps vacation responders and Outlook auto-replies away from noreply.
const HEADERS = { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' };
// Mails are built from templates only: no attachment or embedded content may read a file or a URL.
const CONTENT_POLICY = { disableFileAccess: true, disableUrlAccess: true };

/** nodemailer, imported when a transport is first built (an app that sends no mail never loads it). */
let loading: Promise<typeof nodemailer> | undefined;
function loadNodemailer(): Promise<typeof nodemailer> {
  loading ??= import('nodemailer').then((m) => m.default);
  return loading;
}

type Transporter = ReturnType<typeof nodemailer.createTransport>;

/** Writes each message as an RFC 5322 `.eml` file (CRLF line ends) named `<timestamp>-<id>.eml` under `dir`. */
export class FileDelivery implements Delivery {
  readonly kind = 'file' as const;
  // Built with the first message: the embedded profile starts without loading nodemailer.
  private composer: Promise<Transporter> | undefined;

  constructor(private readonly dir: string) {}

  async start(): Promise<void> {
    try {
      // Owner-only: the files hold live verification and reset links.
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw MailerErrors.OUTDIR_FAILED(`mailer: cannot create the mail folder ${this.dir}: ${(err as Error).message}`, {
        cause: err,
        details: { outDir: this.dir },
      });
    }
  }

  async deliver(mail: OutgoingMail): Promise<Delivered> {
    this.composer ??= loadNodemailer().then((mailer) =>
      mailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows', ...CONTENT_POLICY }),
    );
    const info = await (await this.composer).sendMail({
      ...mail,
      from: address(mail.from),
      to: mail.to.map(address),
      headers: HEADERS,
    });
    // ISO time without ":" (not allowed in Windows file names); sorts in sending order.
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const file = path.join(this.dir, `${stamp}-${randomUUID().slice(0, 8)}.eml`);
    try {
      await writeFile(file, info.message as Buffer, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      throw MailerErrors.UNAVAILABLE(`mailer: cannot write the mail file ${file}: ${(err as Error).message}`, {
        cause: err,
        details: { reason: (err as NodeJS.ErrnoException).code ?? 'write failed' },
      });
    }
    return { messageId: info.messageId, file };
  }

  async probe(): Promise<ProbeResult> {
    return { ok: true };
  }

  async stop(): Promise<void> {
    const composer = this.composer;
    this.composer = undefined;
    (await composer?.catch(() => undefined))?.close();
  }
}

/** Options of {@link SmtpDelivery}. */
export interface SmtpDeliveryOptions {
  readonly url: string;
  readonly secure: boolean | undefined;
  readonly requireTLS: boolean;
  readonly pool: boolean;
  readonly sendTimeoutMs: number;
}

type SmtpTransporter = Transporter;

/** Sends over SMTP with one nodemailer transport (pooled or not) built at start. */
export class SmtpDelivery implements Delivery {
  readonly kind = 'smtp' as const;
  private transporter: SmtpTransporter | undefined;

  constructor(private readonly options: SmtpDeliveryOptions) {}

  async start(): Promise<void> {
    const o = this.options;
    // Every wait is bounded by sendTimeoutMs: a silent server must not hold a send (or the
    // readiness probe) for nodemailer's default minutes.
    const mailer = await loadNodemailer();
    this.transporter = mailer.createTransport({
      url: o.url,
      ...(o.secure === undefined ? {} : { secure: o.secure }),
      requireTLS: o.requireTLS,
      ...(o.pool ? { pool: true as const } : {}),
      connectionTimeout: o.sendTimeoutMs,
      greetingTimeout: o.sendTimeoutMs,
      socketTimeout: o.sendTimeoutMs,
      dnsTimeout: o.sendTimeoutMs,
      logger: false,
      ...CONTENT_POLICY,
    } as Parameters<typeof nodemailer.createTransport>[0]);
  }

  async deliver(mail: OutgoingMail): Promise<Delivered> {
    const transporter = this.transporter;
    if (!transporter) throw MailerErrors.NOT_STARTED('mailer: send() called before start or after stop');
    // sendTimeoutMs bounds the whole send, including a server that answers slowly but steadily.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.options.sendTimeoutMs);
    try {
      const info = await transporter.sendMail({
        ...mail,
        from: address(mail.from),
        to: mail.to.map(address),
        headers: HEADERS,
        signal: abort.signal,
      });
      return { messageId: (info as { messageId: string }).messageId };
    } catch (err) {
      throw smtpError(err, abort.signal.aborted ? this.options.sendTimeoutMs : undefined);
    } finally {
      clearTimeout(timer);
    }
  }

  async probe(): Promise<ProbeResult> {
    if (!this.transporter)
      return {
        ok: false,
        error: MailerErrors.UNAVAILABLE('mailer: the SMTP transport is not started', {
          details: { reason: 'not started' },
        }),
      };
    try {
      await this.transporter.verify();
      return { ok: true };
    } catch (err) {
      return { ok: false, error: smtpError(err, undefined) };
    }
  }

  async stop(): Promise<void> {
    this.transporter?.close();
    this.transporter = undefined;
  }
}

function address(a: MailAddress): { name: string; address: string } {
  return { name: a.name ?? '', address: a.address };
}

/** The SMTP server's host and port, for logs (never the credentials of the URL). */
export function smtpTarget(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol === 'smtps:' ? '465' : '587')}`;
}

interface NodemailerError extends Error {
  code?: string;
  responseCode?: number;
  permanent?: boolean;
  command?: string;
}

// Failures of the connection or the session, not of this message: the server (or its settings)
// is the problem, and the same message goes through once it is fixed. nodemailer marks a rejected
// login (535) "permanent", but it is not this message's fault; 530 is "authentication required".
const SERVER_STATE_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EREQUIRETLS',
  'EPROTOCOL',
  'EAUTH',
  'ENOAUTH',
  'EOAUTH2',
  'EPROXY',
  'EABORT',
]);

/**
 * A permanent SMTP rejection of the message (5xx but 503, e.g. 552 too large or 550 no such user)
 * is SEND_FAILED: sending it again fails the same way. Everything else (refused or dropped
 * connection, timeout, TLS, login, 4xx) is UNAVAILABLE: it is the server's state, and it clears
 * without a restart.
 */
function smtpError(err: unknown, timedOutAfterMs: number | undefined): GantryError {
  const e = err as NodemailerError;
  if (timedOutAfterMs !== undefined) {
    return MailerErrors.UNAVAILABLE(
      `mailer: the mail server did not complete the send within ${timedOutAfterMs} ms (sendTimeoutMs); the message may or may not have been accepted`,
      {
        cause: err,
        headers: { 'Retry-After': '30' },
        details: { reason: 'timeout' },
      },
    );
  }
  const serverState = (e.code !== undefined && SERVER_STATE_CODES.has(e.code)) || e.responseCode === 530;
  if (e.permanent === true && !serverState) {
    return MailerErrors.SEND_FAILED(
      `mailer: the mail server rejected the message (${e.responseCode ?? 'no reply code'} after ${e.command ?? 'a command'})`,
      {
        cause: err,
        details: { responseCode: e.responseCode, command: e.command },
      },
    );
  }
  const reason = e.responseCode === 530 ? 'ENOAUTH' : (e.code ?? (e.responseCode ? String(e.responseCode) : 'unknown'));
  return MailerErrors.UNAVAILABLE(`mailer: the mail server is unavailable (${reason})`, {
    cause: err,
    headers: { 'Retry-After': '30' },
    details: { reason },
  });
}
