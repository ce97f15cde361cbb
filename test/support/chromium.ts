// Debian's Chromium for the browser suites, driven by playwright-core (never a downloaded browser):
// installed by test/services/chromium.sh when missing, started with the flags this machine's closed
// network needs (no background networking, no component updates, no sync).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repo } from './sandbox-process.js';

/** Installs Debian's chromium package when missing; returns the browser's path. */
export function chromiumPath(): string {
  const script = path.join(repo, 'test/services/chromium.sh');
  execFileSync('sh', [script, 'ensure'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return execFileSync('sh', [script, 'path'], { encoding: 'utf8' }).trim();
}

/** A headless Chromium launched from Debian's package. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Collects into `violations` every Content-Security-Policy refusal and uncaught error of the page. */
export function recordViolations(page: Page, violations: string[]): void {
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  page.on('pageerror', (e) => violations.push(String(e)));
}
