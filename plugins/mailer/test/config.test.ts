// Options are checked before anything starts: a bad value stops the boot with
// GANTRY_CORE_BOOT_INVALID naming the option; `auto` picks the transport from the profile.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { MailerToken, plugin as mailerPlugin } from '../src/index.js';

const VALID = { from: 'noreply@example.com', baseUrl: 'https://app.example.com' };

interface BootError {
  code: string;
  message: string;
  cause?: { code: string; message: string };
  details?: unknown;
}

async function bootError(options: {
  config: Record<string, unknown>;
  profile?: string;
  env?: NodeJS.ProcessEnv;
}): Promise<BootError> {
  const k = await createTestKernel({
    plugins: [mailerPlugin],
    config: { mailer: options.config },
    profile: options.profile,
    env: options.env,
  }).catch((e: unknown) => e as BootError);
  if ('kernel' in (k as object)) {
    await (k as TestKernel).stop();
    expect.fail('the kernel booted');
  }
  return k as BootError;
}

describe('mailer options', () => {
  const kernels: TestKernel[] = [];
  afterEach(async () => {
    for (const k of kernels.splice(0)) await k.stop();
  });

  it('refuses transport "smtp" without smtpUrl, naming the option', async () => {
    const err = await bootError({ config: { ...VALID, transport: 'smtp' } });
    expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect(err.message).to.include('option "smtpUrl": is required when transport is "smtp"');
  });

  it('refuses a smtpUrl that is not smtp:// or smtps://', async () => {
    const err = await bootError({ config: { ...VALID, transport: 'smtp', smtpUrl: 'http://mail.example.com' } });
    expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect(err.message).to.include('option "smtpUrl": must be an SMTP URL');
  });

  it('requires baseUrl: there is no fallback to a request Host header', async () => {
    const err = await bootError({ config: { from: 'noreply@example.com' } });
    expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect(err.message).to.include('option "baseUrl"');
  });

  for (const baseUrl of [
    'app.example.com',
    '/accounts',
    'ftp://app.example.com',
    'javascript:alert(1)',
    'https://app.example.com/?next=x',
    'https://app.example.com/#x',
    'https://user:pw@app.example.com',
  ]) {
    it(`refuses baseUrl ${JSON.stringify(baseUrl)}, naming the option`, async () => {
      const err = await bootError({ config: { ...VALID, baseUrl } });
      expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
      expect(err.message).to.include('option "baseUrl": must be an absolute http:// or https:// URL');
    });
  }

  for (const from of [
    '',
    'noreply',
    'a@example.com, b@example.com',
    'Evil\r\nBcc: x@example.com <noreply@example.com>',
  ]) {
    it(`refuses from ${JSON.stringify(from)}, naming the option`, async () => {
      const err = await bootError({ config: { ...VALID, from } });
      expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
      expect(err.message).to.include('option "from": must be one address');
    });
  }

  it('refuses unknown options, a bad defaultLocale and a tiny sendTimeoutMs in one report', async () => {
    const err = await bootError({
      config: { ...VALID, smtpHost: 'mail', defaultLocale: 'not a locale!', sendTimeoutMs: 5 },
    });
    expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect(err.message).to.include('smtpHost');
    expect(err.message).to.include('option "defaultLocale"');
    expect(err.message).to.include('option "sendTimeoutMs"');
  });

  it('auto is "file" in the embedded profile, "smtp" in others; an explicit transport wins', async () => {
    const appDir = await mkdtemp(path.join(os.tmpdir(), 'gantry-mail-'));
    try {
      const embedded = await createTestKernel({ plugins: [mailerPlugin], appDir, config: { mailer: VALID } });
      kernels.push(embedded);
      expect(embedded.get(MailerToken).transport).to.equal('file');
      const explicit = await createTestKernel({
        plugins: [mailerPlugin],
        profile: 'compose',
        config: { mailer: { ...VALID, transport: 'file', outDir: appDir } },
      });
      kernels.push(explicit);
      expect(explicit.get(MailerToken).transport).to.equal('file');
    } finally {
      await rm(appDir, { recursive: true, force: true });
    }

    // Port 1 on loopback: nothing listens; the app boots anyway (the outage is in readiness).
    const compose = await createTestKernel({
      plugins: [mailerPlugin],
      profile: 'compose',
      config: { mailer: { ...VALID, smtpUrl: 'smtp://127.0.0.1:1' } },
    });
    kernels.push(compose);
    expect(compose.get(MailerToken).transport).to.equal('smtp');
    expect((await compose.kernel.health.readiness()).checks.mailer!.status).to.equal('degraded');
  });

  it('auto without smtpUrl outside the embedded profile fails the boot with GANTRY_MAILER_CONFIG_INVALID', async () => {
    const err = await bootError({ config: VALID, profile: 'compose' });
    expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect((err.details as { codes: string[] }).codes).to.deep.equal(['GANTRY_MAILER_CONFIG_INVALID']);
    expect(err.message).to.include('"smtpUrl" is required');
    expect(err.message).to.include('profile "compose"');
  });

  it('takes smtpUrl and the other options from GANTRY_MAILER__* variables', async () => {
    const k = await createTestKernel({
      plugins: [mailerPlugin],
      config: { mailer: { from: 'noreply@example.com' } },
      env: {
        GANTRY_MAILER__TRANSPORT: 'smtp',
        GANTRY_MAILER__SMTP_URL: 'smtp://127.0.0.1:1',
        GANTRY_MAILER__BASE_URL: 'https://env.example.com/',
        GANTRY_MAILER__SEND_TIMEOUT_MS: '2000',
      },
    });
    kernels.push(k);
    const mailer = k.get(MailerToken);
    expect(mailer.transport).to.equal('smtp');
    expect(mailer.baseUrl).to.equal('https://env.example.com');
    expect(mailer.link('/x')).to.equal('https://env.example.com/x');
  });
});
