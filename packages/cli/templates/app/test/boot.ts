// Boots this app's own gantry.config.json in-process for a test: no socket, SQLite in memory, mail
// written to a temporary folder. Run `npm test`: it builds the app first (local plugins load from dist/).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyProfile, readConfigFile } from '@gantry/core';
import { createTestKernel, type TestKernel } from '@gantry/testing';

/** The app folder (this file runs from dist-test/). */
export const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Test-only changes to the config: nothing written outside a temporary folder. */
const OVERRIDES: Record<string, Record<string, unknown>> = {
  database: { dbName: ':memory:' },
  mailer: { transport: 'file' },
};

/** A booted app and what tests need around it. */
export interface BootedApp {
  readonly tk: TestKernel;
  /** Sends a JSON request through the whole HTTP stack; the body is parsed when it is JSON. */
  call(method: string, url: string, options?: { body?: unknown; token?: string }): Promise<{ status: number; body: any; text: string }>;
  /** The newest mail to `to` whose text matches, waiting for mail sent in the background. */
  mail(to: string, match: RegExp): Promise<string>;
  stop(): Promise<void>;
}

/** Boots the embedded profile of gantry.config.json with the test overrides. */
export async function bootApp(): Promise<BootedApp> {
  const config = await readConfigFile(path.join(appDir, 'gantry.config.json'));
  const enabled = Object.entries(applyProfile(config, 'embedded')).filter((e): e is [string, Record<string, unknown>] => e[1] !== false);
  const mailDir = mkdtempSync(path.join(os.tmpdir(), 'gantry-app-mail-'));
  const options = (spec: string, opts: Record<string, unknown>) => ({ ...opts, ...(OVERRIDES[spec] ?? {}), ...(spec === 'mailer' ? { outDir: mailDir } : {}) });
  const tk = await createTestKernel({ appDir, plugins: enabled.map(([spec]) => spec), config: Object.fromEntries(enabled.map(([spec, opts]) => [spec, options(spec, opts)])) });
  return {
    tk,
    async call(method, url, o = {}) {
      const res = await tk.inject({
        method: method as 'GET',
        url,
        headers: { ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(o.token ? { authorization: `Bearer ${o.token}` } : {}) },
        ...(o.body !== undefined ? { payload: JSON.stringify(o.body) } : {}),
      });
      let body: unknown;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, body, text: res.body };
    },
    async mail(to, match) {
      // Mail leaves in the background: poll for it (bounded), rather than sleeping a fixed time.
      for (let i = 0; i < 100; i++) {
        const found = readdirSync(mailDir)
          .filter((f) => f.endsWith('.eml'))
          .sort()
          .map((f) => readFileSync(path.join(mailDir, f), 'utf8'))
          .filter((m) => m.toLowerCase().includes(`to: ${to.toLowerCase()}`) && match.test(m))
          .at(-1);
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no mail to ${to} matching ${match}`);
    },
    async stop() {
      await tk.stop();
      rmSync(mailDir, { recursive: true, force: true });
    },
  };
}
