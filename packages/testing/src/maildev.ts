// A real MailDev (SMTP server + HTTP API) in this process, on loopback ports chosen by the OS.
// stop() and start() again reuse the same ports, so a kernel configured with its URL sees the
// server go away and come back.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MailDev, type PartialMailDevConfig, type Servers } from 'maildev';

/** An address as MailDev's API returns it. */
export interface CaughtAddress {
  readonly address: string;
  readonly name?: string;
}

/** A message as MailDev's HTTP API (GET /api/email/:id) returns it. */
export interface CaughtMail {
  readonly id: string;
  readonly subject: string;
  readonly from: readonly CaughtAddress[];
  readonly to: readonly CaughtAddress[];
  readonly cc?: readonly CaughtAddress[];
  readonly bcc?: readonly CaughtAddress[];
  readonly calculatedBcc?: readonly CaughtAddress[];
  readonly text?: string;
  readonly html?: string;
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly envelope: { readonly from: CaughtAddress; readonly to: readonly CaughtAddress[] };
}

/** MailDev started and stopped by a test. */
export class MailCatcher {
  private maildev: MailDev | undefined;
  private servers: Servers | undefined;
  private smtpPort = 0;
  private webPort = 0;
  private dir: string | undefined;

  constructor(private readonly extra: PartialMailDevConfig = {}) {}

  /** Starts the servers (the same ports as before after a stop). */
  async start(): Promise<void> {
    this.dir ??= await mkdtemp(path.join(os.tmpdir(), 'gantry-maildev-'));
    const maildev = new MailDev({
      smtp: this.smtpPort,
      web: this.webPort,
      ip: '127.0.0.1',
      webIp: '127.0.0.1',
      silent: true,
      mailDirectory: this.dir,
      ...this.extra,
    });
    // MailDev's API server prints its address with console.info whatever `silent` says.
    const info = console.info;
    console.info = () => undefined;
    try {
      this.servers = await maildev.start();
    } finally {
      console.info = info;
    }
    this.maildev = maildev;
    this.smtpPort = this.servers.smtp.getPort();
    this.webPort = this.servers.api!.getPort()!;
  }

  /** Stops the servers; the ports stay reserved for the next start(). */
  async stop(): Promise<void> {
    await this.maildev?.stop();
    this.maildev = undefined;
    this.servers = undefined;
  }

  /** Stops the servers and deletes the stored mail. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** `smtp://[credentials@]127.0.0.1:<port>`. */
  smtpUrl(credentials = ''): string {
    if (!this.smtpPort) throw new TypeError('MailCatcher: start() first');
    return `smtp://${credentials ? `${credentials}@` : ''}127.0.0.1:${this.smtpPort}`;
  }

  /**
   * The next message the SMTP server receives, read back through the HTTP API. Call it before
   * sending: MailDev stores a message after the SMTP transaction has ended.
   */
  nextMail(): Promise<CaughtMail> {
    const smtp = this.servers?.smtp;
    if (!smtp) throw new TypeError('MailCatcher: not running');
    return new Promise<{ id: string }>((resolve) => smtp.once('new', resolve)).then((email) =>
      this.api<CaughtMail>(`/api/email/${email.id}`),
    );
  }

  /** Every stored message, oldest first. */
  all(): Promise<CaughtMail[]> {
    return this.api<CaughtMail[]>('/api/email');
  }

  /** The raw RFC 5322 source of a stored message. */
  async source(id: string): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.webPort}/api/email/${id}/source`);
    if (!res.ok) throw new TypeError(`MailDev API: ${res.status}`);
    return res.text();
  }

  private async api<T>(p: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.webPort}${p}`);
    if (!res.ok) throw new TypeError(`MailDev API ${p}: ${res.status}`);
    return (await res.json()) as T;
  }
}
