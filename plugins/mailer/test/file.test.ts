// The file transport (default of the embedded profile): one RFC 5322 .eml file per mail, parsed
// back with mailparser; logs that name the file but never the link.
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { simpleParser, type AddressObject } from 'mailparser';
import { lastMailCommand } from '../src/mail-command.js';
import { MailerToken, plugin as mailerPlugin } from '../src/index.js';
import { memoryLogger, type LogLine } from './support/plugins.js';

const BASE = 'https://app.example.com';
const EML_NAME = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z-[0-9a-f]{8}\.eml$/;

describe('mailer file transport', () => {
  const tmpDirs: string[] = [];
  const kernels: TestKernel[] = [];
  async function tmpDir(): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gantry-mail-'));
    tmpDirs.push(dir);
    return dir;
  }
  afterEach(async () => {
    for (const k of kernels.splice(0)) await k.stop();
  });
  after(async () => {
    for (const dir of tmpDirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('is the default of the embedded profile: writes a parseable .eml under <appDir>/var/mail', async () => {
    const appDir = await tmpDir();
    const k = await createTestKernel({
      plugins: [mailerPlugin],
      appDir,
      config: { mailer: { from: 'Gantry <noreply@example.com>', baseUrl: BASE } },
    });
    kernels.push(k);
    const mailer = k.get(MailerToken);
    expect(mailer.transport).to.equal('file');

    const link = mailer.link('/verify-email', { token: 'file-tok' });
    const result = await mailer.send({
      to: { name: 'Ann', address: 'ann@example.com' },
      template: 'verify-email',
      data: { name: '<b>Ann</b>', link },
    });

    const dir = path.join(appDir, 'var', 'mail');
    expect(result.file).to.be.a('string');
    expect(path.dirname(result.file!)).to.equal(dir);
    expect(path.basename(result.file!)).to.match(EML_NAME);
    expect(await readdir(dir)).to.deep.equal([path.basename(result.file!)]);
    // Owner-only: the file holds a live verification link.
    expect((await stat(result.file!)).mode & 0o777).to.equal(0o600);

    const raw = await readFile(result.file!);
    // RFC 5322 line ends: every LF is part of a CRLF.
    expect(raw.toString('latin1')).not.to.match(/[^\r]\n/);
    const parsed = await simpleParser(raw);
    expect(parsed.subject).to.equal('Verify your email address');
    expect((parsed.to as AddressObject).value).to.deep.equal([{ address: 'ann@example.com', name: 'Ann' }]);
    expect(parsed.from!.value).to.deep.equal([{ address: 'noreply@example.com', name: 'Gantry' }]);
    expect(parsed.messageId).to.equal(result.messageId);
    expect(parsed.date).to.be.instanceOf(Date);
    expect(parsed.headers.get('auto-submitted')).to.equal('auto-generated');
    expect(parsed.text).to.include(`${BASE}/verify-email?token=file-tok`);
    expect(parsed.html).to.include('Hello &lt;b&gt;Ann&lt;/b&gt;,');
    expect(parsed.html).to.include(`href="${BASE}/verify-email?token=file-tok"`);

    const report = await k.kernel.health.readiness();
    expect(report.checks.mailer!.status).to.equal('up');
    expect(report.checks.mailer!.details).to.deep.include({ transport: 'file' });
    expect(report.checks.mailer!.details!.lastSend).to.include({ outcome: 'sent', template: 'verify-email' });
  });

  it('writes to an absolute outDir, one file per mail', async () => {
    const outDir = path.join(await tmpDir(), 'outbox');
    const k = await createTestKernel({
      plugins: [mailerPlugin],
      config: { mailer: { transport: 'file', outDir, from: 'noreply@example.com', baseUrl: BASE } },
    });
    kernels.push(k);
    const mailer = k.get(MailerToken);
    const first = await mailer.send({
      to: 'a@example.com',
      template: 'password-reset',
      data: { name: 'A', link: mailer.link('/reset', { t: 1 }), expiresInMinutes: 15 },
    });
    const second = await mailer.send({
      to: 'b@example.com',
      template: 'new-login',
      data: { name: 'B', when: new Date('2026-01-02T03:04:05Z'), ip: '198.51.100.1', userAgent: 'curl/8' },
    });
    const files = (await readdir(outDir)).sort();
    expect(files).to.deep.equal([path.basename(first.file!), path.basename(second.file!)].sort());
    const parsed = await simpleParser(await readFile(second.file!));
    expect(parsed.subject).to.equal('New sign-in to your account');
    expect(parsed.text).to.include('When: January 2, 2026 at 3:04:05 AM UTC');
  });

  it('logs recipient, template and file at info, and never the link or its token', async () => {
    const lines: LogLine[] = [];
    const outDir = await tmpDir();
    const k = await createTestKernel({
      plugins: [mailerPlugin],
      logger: memoryLogger(lines),
      config: { mailer: { transport: 'file', outDir, from: 'noreply@example.com', baseUrl: BASE } },
    });
    kernels.push(k);
    const mailer = k.get(MailerToken);
    const result = await mailer.send({
      to: 'ann@example.com',
      template: 'password-reset',
      data: { name: 'Ann', link: mailer.link('/reset', { token: 'SECRET-RESET-TOKEN' }), expiresInMinutes: 10 },
    });

    const line = lines.find((l) => l.level === 'info' && l.msg === 'mail written to file');
    expect(line?.fields).to.deep.include({ to: ['ann@example.com'], template: 'password-reset', file: result.file });
    expect(JSON.stringify(lines)).not.to.include('SECRET-RESET-TOKEN');
    expect(JSON.stringify(lines)).not.to.include('/reset');
  });

  it('fails the start with GANTRY_MAILER_OUTDIR_FAILED when the folder cannot be created', async () => {
    const dir = await tmpDir();
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'not a folder');
    const err = (await createTestKernel({
      plugins: [mailerPlugin],
      config: {
        mailer: { transport: 'file', outDir: path.join(file, 'mail'), from: 'noreply@example.com', baseUrl: BASE },
      },
    }).catch((e: unknown) => e)) as { code: string; cause?: { code: string; message: string } };
    expect(err.code).to.equal('GANTRY_CORE_HOOK_FAILED');
    expect(err.cause?.code).to.equal('GANTRY_MAILER_OUTDIR_FAILED');
    expect(err.cause?.message).to.include(path.join(file, 'mail'));
  });
  describe('mail:last command', () => {
    it('prints the newest mails decoded (a long link in one piece, never quoted-printable), n of them on request', async () => {
      const outDir = await tmpDir();
      const k = await createTestKernel({
        plugins: [mailerPlugin],
        config: { mailer: { transport: 'file', outDir, from: 'Gantry <noreply@example.com>', baseUrl: BASE } },
      });
      kernels.push(k);
      const mailer = k.get(MailerToken);
      const token = 'A'.repeat(90);
      await mailer.send({
        to: 'ann@example.com',
        template: 'password-reset',
        data: { name: 'Ann', link: mailer.link('/reset-password', { token: 'first' }), expiresInMinutes: 30 },
      });
      // Sending-time file names have millisecond precision.
      await new Promise((r) => setTimeout(r, 5));
      await mailer.send({
        to: 'bob@example.com',
        template: 'verify-email',
        data: { name: 'Bob', link: mailer.link('/verify-email', { token }) },
      });
      const lines: string[] = [];
      expect(await lastMailCommand(outDir, [], (l) => lines.push(l))).to.equal(0);
      const out = lines.join('\n');
      expect(out).to.include('To: bob@example.com').and.include('Subject: Verify your email address');
      expect(out).to.include(`${BASE}/verify-email?token=${token}`);
      expect(out).to.not.include('ann@example.com').and.not.include('=3D');
      lines.length = 0;
      expect(await lastMailCommand(outDir, ['2'], (l) => lines.push(l))).to.equal(0);
      expect(lines.filter((l) => l.startsWith('To: '))).to.deep.equal(['To: ann@example.com', 'To: bob@example.com']);
      // The plugin registers it as a kernel command (`main.js mail:last`) printing to stdout.
      const printed: string[] = [];
      const write = process.stdout.write;
      process.stdout.write = ((chunk: string) => printed.push(chunk) > 0) as typeof process.stdout.write;
      try {
        expect(await k.kernel.runCommand('mail:last', ['1'])).to.equal(0);
      } finally {
        process.stdout.write = write;
      }
      expect(printed.join('')).to.include(`token=${token}`);
    });

    it('exits 1 when there is no mail and 2 on a bad count', async () => {
      const outDir = await tmpDir();
      const lines: string[] = [];
      expect(await lastMailCommand(outDir, [], (l) => lines.push(l))).to.equal(1);
      expect(await lastMailCommand(path.join(outDir, 'missing'), [], (l) => lines.push(l))).to.equal(1);
      expect(lines[0]).to.equal(`no mail in ${outDir}`);
      for (const bad of ['0', '101', 'x', '1.5'])
        expect(await lastMailCommand(outDir, [bad], (l) => lines.push(l)), bad).to.equal(2);
    });
  });
});
