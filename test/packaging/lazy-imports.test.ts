// A plugin that is not enabled is never imported, and the heavy dependencies of the enabled ones are
// imported when first needed, not at boot. Each case boots a kernel in a process of its own
// (test/support/import-probe.ts) and reads every module that process resolved.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { freePort } from '../support/sandbox-ports.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../../..');
const probe = path.join(repo, 'test/dist/support/import-probe.js');
const sandbox = path.join(repo, 'sandbox');
const ALL_PLUGINS = readdirSync(path.join(repo, 'plugins'));

/** Packages that must stay unloaded unless their feature is used. */
const HEAVY = [
  'kafkajs',
  'nodemailer',
  'argon2',
  '@zxcvbn-ts',
  'yaml',
  'graphql',
  'graphql-ws',
  'oidc-provider',
  'swagger-jsdoc',
  'passport-facebook',
  'passport-google-oauth20',
  'winston',
  '@mikro-orm',
  'better-sqlite3',
  'ioredis',
];

async function loadedBy(
  plugins: Record<string, unknown>,
  options: { appDir?: string; serve?: boolean } = {},
): Promise<string[]> {
  const args = [probe, JSON.stringify({ plugins }), options.appDir ?? repo, ...(options.serve ? ['serve'] : [])];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 });
  return (JSON.parse(stdout) as string[]).map((u) => (u.startsWith('file://') ? fileURLToPath(u) : u));
}

/** The plugin folders (plugins/<name>) and node_modules packages among the loaded files. */
function summarize(files: string[]): { plugins: Set<string>; packages: Set<string> } {
  const plugins = new Set<string>();
  const packages = new Set<string>();
  for (const f of files) {
    const p = /\/plugins\/([^/]+)\//.exec(f.slice(repo.length));
    if (f.startsWith(repo) && p && !f.includes('/node_modules/')) plugins.add(p[1]!);
    const m = /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f);
    if (m) packages.add(m[1]!);
  }
  return { plugins, packages };
}

function heavyIn(packages: Set<string>, allowed: readonly string[] = []): string[] {
  return [...packages].filter(
    (p) =>
      HEAVY.some((h) => p === h || p.startsWith(`${h}/`)) && !allowed.some((a) => p === a || p.startsWith(`${a}/`)),
  );
}

describe('lazy imports (a plugin that is not enabled costs nothing)', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-lazy-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('http + metrics: no other plugin and no heavy dependency is imported', async () => {
    const { plugins, packages } = summarize(await loadedBy({ http: {}, metrics: {} }));
    expect([...plugins]).to.have.members(['metrics']);
    expect(packages.has('prom-client')).to.equal(true);
    expect(heavyIn(packages)).to.deep.equal([]);
    const others = ALL_PLUGINS.filter((p) => p !== 'metrics');
    expect(others.filter((p) => plugins.has(p))).to.deep.equal([]);
  });

  it('kafka-events on the memory driver and mailer on files: neither kafkajs nor nodemailer is imported', async () => {
    const { plugins, packages } = summarize(
      await loadedBy({
        http: {},
        'kafka-events': {},
        mailer: { from: 'App <noreply@example.com>', baseUrl: 'http://localhost:3000', outDir: path.join(dir, 'mail') },
      }),
    );
    expect([...plugins]).to.have.members(['kafka-events', 'mailer']);
    expect(heavyIn(packages)).to.deep.equal([]);
  });

  it('users: argon2 and the password dictionary wait for the first password', async () => {
    const { plugins, packages } = summarize(
      await loadedBy({
        http: {},
        database: { driver: 'sqlite', dbName: path.join(dir, 'users.sqlite'), migrateOnStart: true },
        mailer: { from: 'App <noreply@example.com>', baseUrl: 'http://localhost:3000', outDir: path.join(dir, 'mail') },
        audit: {},
        'auth-jwt': { issuer: 'http://localhost:3000', audience: 'app' },
        rbac: {},
        users: {},
      }),
    );
    expect([...plugins]).to.have.members(['database', 'mailer', 'audit', 'auth-jwt', 'rbac', 'users']);
    expect(heavyIn(packages, ['@mikro-orm', 'better-sqlite3'])).to.deep.equal([]);
    expect(packages.has('better-sqlite3')).to.equal(true);
  });

  it("the sandbox's development OpenID provider, serving: oidc-provider waits for its first request", async () => {
    const devIdp = {
      port: await freePort(),
      clientSecret: 'a-test-secret-of-16+',
      redirectUri: 'http://localhost:3000/api/v1/auth/oauth/dev/callback',
    };
    const files = await loadedBy({ './dist/src/dev-idp/plugin.js': devIdp }, { appDir: sandbox, serve: true });
    expect(files.some((f) => f.endsWith('/sandbox/dist/src/dev-idp/plugin.js'))).to.equal(true);
    expect(heavyIn(summarize(files).packages)).to.deep.equal([]);
  });
});
