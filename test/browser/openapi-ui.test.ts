// The sandbox's /docs in a real headless Chromium (Debian's package, driven by playwright-core): the
// self-hosted Swagger UI loads under its policy with no violation, lists every operation of the
// document, and "Try it out" executes requests against the same server, with a bearer token too.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpServerToken } from '@gantry/http';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, recordViolations } from '../support/chromium.js';
import { bootSandboxKernel, type SandboxKernel } from '../support/sandbox-kernel.js';
import { freePort } from '../support/sandbox-ports.js';

describe('sandbox Swagger UI in a real browser (Chromium)', function () {
  this.timeout(60_000);
  let dir: string;
  let sandbox: SandboxKernel;
  let base: string;
  let browser: Browser;
  let page: Page;
  const violations: string[] = [];
  const requests: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-docs-'));
    sandbox = await bootSandboxKernel({
      GANTRY_HTTP__LISTEN: 'true',
      GANTRY_HTTP__PORT: String(await freePort()),
      GANTRY_MAILER__OUT_DIR: path.join(dir, 'mail'),
    });
    const addr = sandbox.kernel.container.get(HttpServerToken).address()!;
    base = `http://127.0.0.1:${addr.port}`;
    browser = await launchChromium();
  });

  beforeEach(async () => {
    page = await browser.newPage();
    // A CSP violation is reported on the console: the pages must need nothing their policy forbids.
    recordViolations(page, violations);
    // Every request the page makes: nothing may leave this server (no CDN, no validator badge).
    page.on('request', (r) => requests.push(r.url()));
  });

  afterEach(async () => {
    await page.close();
    expect(violations, violations.join('\n')).to.deep.equal([]);
    expect(requests.filter((u) => !u.startsWith(base) && !u.startsWith('data:'))).to.deep.equal([]);
  });

  after(async () => {
    await browser?.close();
    await sandbox?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads under its policy and lists every operation of the document', async () => {
    const response = await page.goto(`${base}/docs`);
    expect(response?.status()).to.equal(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).to.include("script-src 'self'").and.not.include('unsafe-inline');
    const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, object> };
    const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    await page.locator('.opblock').first().waitFor();
    // An operation with several tags is shown under each: count distinct method + path pairs.
    const shown = await page
      .locator('.opblock')
      .evaluateAll((blocks) =>
        blocks.map(
          (b) =>
            `${b.querySelector('.opblock-summary-method')?.textContent} ${b.querySelector('[data-path]')?.getAttribute('data-path')}`,
        ),
      );
    expect(new Set(shown).size).to.equal(operations);
    expect(await page.locator('.info .title').textContent()).to.contain('Gantry sandbox API');
  });

  it('"Try it out" executes GET /healthz against the same server and shows 200', async () => {
    await page.goto(`${base}/docs`);
    const op = page.locator('.opblock-get', { has: page.locator('[data-path="/healthz"]') });
    await op.locator('.opblock-summary').first().click();
    await op.locator('.try-out__btn').click();
    await op.locator('.execute').click();
    const status = op.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor();
    expect((await status.textContent())?.trim()).to.equal('200');
    expect(requests).to.include(`${base}/healthz`);
  });

  it('"Try it out" sends the bearer token given to Authorize (GET /api/v1/users/me answers 200)', async () => {
    const { token } = await sandbox.tokenFor('docs-reader@example.com', ['user']);
    await page.goto(`${base}/docs`);
    await page.locator('.auth-wrapper .authorize').click();
    const dialog = page.locator('.dialog-ux');
    await dialog.locator('input[type=text]').first().fill(token);
    await dialog.locator('button.authorize').first().click();
    await dialog.locator('.close-modal').click();
    const op = page.locator('.opblock-get', { has: page.locator('[data-path="/api/v1/users/me"]') });
    await op.locator('.opblock-summary').first().click();
    await op.locator('.try-out__btn').click();
    await op.locator('.execute').click();
    const status = op.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor();
    expect((await status.textContent())?.trim()).to.equal('200');
    expect(await op.locator('.live-responses-table').textContent()).to.contain('docs-reader@example.com');
    // persistAuthorization is off: nothing of the token is kept in the browser's storage.
    expect(await page.evaluate<string>('JSON.stringify(localStorage)')).to.not.contain(token.slice(0, 20));
  });
});
