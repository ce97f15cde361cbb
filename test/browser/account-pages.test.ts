// The quick start as a person lives it: the links of the sandbox's mails, followed in a real headless
// Chromium (Debian's package, driven by playwright-core), lead to pages that work.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { simpleParser } from 'mailparser';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, recordViolations } from '../support/chromium.js';
import { freePort } from '../support/sandbox-ports.js';
import { startSandbox, stopSandbox, type Sandbox } from '../support/sandbox-process.js';

const PW = 'Correct-Horse-Battery-9';

/** The link of the newest mail to `to` whose subject matches, decoded as a mail client would. */
async function mailedLink(dir: string, to: string, subject: RegExp): Promise<URL> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .reverse();
    for (const file of files) {
      const mail = await simpleParser(readFileSync(path.join(dir, file)));
      const recipients = [mail.to]
        .flat()
        .flatMap((a) => a?.value ?? [])
        .map((a) => a.address);
      if (!recipients.includes(to) || !subject.test(mail.subject ?? '')) continue;
      const href = /https?:\/\/\S+\?token=[A-Za-z0-9_-]+/.exec(mail.text ?? '')?.[0];
      if (href) return new URL(href);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no mail to ${to} matching ${subject} in ${dir}`);
}

async function api(
  app: Sandbox,
  route: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${app.base}/api/v1${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Waits for the page's outcome line and returns it (its class says success or refusal). */
async function outcome(page: Page): Promise<{ ok: boolean; text: string }> {
  const line = page.locator('#outcome.ok, #outcome.error');
  await line.waitFor();
  return { ok: (await line.getAttribute('class')) === 'ok', text: (await line.textContent()) ?? '' };
}

describe('sandbox account pages in a real browser (Chromium)', function () {
  this.timeout(60_000);
  let dir: string;
  let app: Sandbox;
  let browser: Browser;
  let page: Page;
  const violations: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-pages-'));
    // Only PORT and DEV_IDP_PORT: the config file derives every URL (mail links included) from them,
    // so a second sandbox runs beside a first one with nothing else set.
    const port = await freePort();
    const idpPort = await freePort();
    app = await startSandbox(
      { GANTRY_DATABASE__DB_NAME: path.join(dir, 'data.sqlite'), GANTRY_MAILER__OUT_DIR: path.join(dir, 'mail') },
      {
        env: { PORT: String(port), DEV_IDP_PORT: String(idpPort) },
        base: `http://127.0.0.1:${port}`,
        issuer: `http://127.0.0.1:${idpPort}`,
      },
    );
    browser = await launchChromium();
  });

  beforeEach(async () => {
    page = await browser.newPage();
    // A CSP violation is reported on the console: the pages must need nothing their policy forbids.
    recordViolations(page, violations);
  });

  afterEach(async () => {
    await page.close();
    expect(violations, violations.join('\n')).to.deep.equal([]);
  });

  after(async () => {
    await browser?.close();
    if (app) await stopSandbox(app);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the verification link confirms the address, and the account can then sign in', async () => {
    expect((await api(app, '/auth/signup', { email: 'ada@example.com', password: PW, name: 'Ada' })).status).to.equal(
      201,
    );
    const link = await mailedLink(path.join(dir, 'mail'), 'ada@example.com', /verify/i);
    expect(link.port, 'the mail links to the port the sandbox serves').to.equal(new URL(app.base).port);
    expect((await api(app, '/auth/login', { email: 'ada@example.com', password: PW })).status).to.equal(403);

    const response = await page.goto(link.href);
    expect(response?.status()).to.equal(200);
    expect(response?.headers()['content-security-policy']).to.include("script-src 'self'");
    // The token leaves the address bar (and so the history) once the script has read it.
    expect(new URL(page.url()).search).to.equal('');
    await page.getByRole('button', { name: 'Confirm my address' }).click();
    expect(await outcome(page)).to.deep.equal({ ok: true, text: 'Your address is confirmed. You can sign in now.' });

    expect((await api(app, '/auth/login', { email: 'ada@example.com', password: PW })).status).to.equal(200);
    // The link is single-use: opening it again says why it fails.
    const again = await browser.newPage();
    await again.goto(link.href);
    await again.getByRole('button', { name: 'Confirm my address' }).click();
    const refused = await outcome(again);
    expect(refused.ok).to.equal(false);
    expect(refused.text).to.match(/invalid|expired|used/i);
    await again.close();
  });

  it('forgot password → mailed link → a new password set in the page → sign-in with it', async () => {
    await page.goto(`${app.base}/forgot-password`);
    await page.getByLabel('Email address').fill('ada@example.com');
    await page.getByRole('button', { name: 'Mail me a link' }).click();
    expect((await outcome(page)).text).to.include('If an account uses this address');

    const link = await mailedLink(path.join(dir, 'mail'), 'ada@example.com', /reset|password/i);
    await page.goto(link.href);
    const fresh = 'Another-Good-Passphrase-42';
    await page.getByLabel('New password', { exact: true }).fill(fresh);
    await page.getByLabel('New password again').fill(`${fresh}x`);
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.getByText('The two passwords differ.').waitFor();
    // A refused password (too common) shows the API's reason and leaves the link usable.
    await page.getByLabel('New password', { exact: true }).fill('password');
    await page.getByLabel('New password again').fill('password');
    await page.getByRole('button', { name: 'Set the new password' }).click();
    const weak = await outcome(page);
    expect(weak.ok).to.equal(false);
    expect(weak.text).to.match(/password/i);
    await page.getByLabel('New password', { exact: true }).fill(fresh);
    await page.getByLabel('New password again').fill(fresh);
    await page.getByRole('button', { name: 'Set the new password' }).click();
    expect(await outcome(page)).to.deep.equal({
      ok: true,
      text: 'Your password is changed. Sign in with the new one.',
    });

    expect((await api(app, '/auth/login', { email: 'ada@example.com', password: PW })).status).to.equal(401);
    expect((await api(app, '/auth/login', { email: 'ada@example.com', password: fresh })).status).to.equal(200);
  });

  it('a page opened without its token says so instead of failing silently', async () => {
    await page.goto(`${app.base}/reset-password`);
    expect(await page.locator('#outcome').textContent()).to.include('This link has no token');
    expect(await page.getByRole('button', { name: 'Set the new password' }).isDisabled()).to.equal(true);
  });
});
