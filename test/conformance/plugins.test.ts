// Runs the plugin conformance kit against every plugin in the repo: the built-in `http` plugin and
// each package under plugins/. A new plugin folder is picked up without editing this file.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPlugin, type Plugin } from '@gantry/core';
import { checkConformance } from '@gantry/testing';
import { expect } from 'chai';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const mailDir = mkdtempSync(path.join(os.tmpdir(), 'gantry-conformance-mail-'));

/** Options a plugin needs to boot without outside services (the embedded profile's choices). */
const BOOT_OPTIONS: Record<string, Record<string, unknown>> = {
  database: { dbName: ':memory:' },
  mailer: { transport: 'file', from: 'noreply@example.com', baseUrl: 'http://localhost:3000', outDir: mailDir },
  'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test' },
  redis: { url: 'redis://127.0.0.1:1', critical: false }, // no Redis in `npm test`: refused at once, reported degraded, not down
  oauth: {
    callbackBaseUrl: 'https://app.example.com',
    providers: { google: { clientId: 'conformance', clientSecret: 'conformance-secret' } },
  },
  mfa: { encryptionKey: randomBytes(32).toString('base64') },
  'elk-logger': { console: { enabled: false } }, // boots with no shipping transport; its tests cover those
  // No Consul in `npm test`: refused at once, the plugin boots on local config with readiness degraded.
  'consul-config': { url: 'http://127.0.0.1:1', backoff: { initialMs: 50, maxMs: 200 } },
};

/**
 * Plugins a plugin is checked with besides its dependencies: those that guard its routes (the HTTP
 * layer refuses to serve a route declaring a permission when no plugin checks permissions).
 */
const COMPANIONS: Record<string, readonly string[]> = {
  'sessions-redis': ['database', 'rbac'],
  rbac: ['auth-jwt'],
};

async function load(pkg: string): Promise<Plugin> {
  const mod = (await import(pkg)) as { plugin?: unknown };
  if (!isPlugin(mod.plugin)) throw new Error(`${pkg} does not export a plugin named "plugin"`);
  return mod.plugin;
}

async function loadByName(name: string): Promise<Plugin> {
  return name === 'http' ? load('@gantry/http') : load(`@gantry/plugin-${name}`);
}

/** The plugin's dependencies, transitively, in an order the kernel accepts. */
async function dependencies(plugin: Plugin, seen = new Map<string, Plugin>()): Promise<Plugin[]> {
  for (const dep of plugin.dependsOn ?? []) {
    if (seen.has(dep)) continue;
    const p = await loadByName(dep);
    seen.set(dep, p);
    await dependencies(p, seen);
  }
  return [...seen.values()];
}

const pluginPackages = readdirSync(path.join(repo, 'plugins'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => JSON.parse(readFileSync(path.join(repo, 'plugins', d.name, 'package.json'), 'utf8')) as { name: string });

describe('plugin conformance (every plugin in the repo)', () => {
  after(() => rmSync(mailDir, { recursive: true, force: true }));

  it('finds the plugins to check', () => {
    expect(pluginPackages.map((p) => p.name)).to.include.members([
      '@gantry/plugin-database',
      '@gantry/plugin-metrics',
      '@gantry/plugin-circuit-breaker',
    ]);
  });

  for (const pkg of ['@gantry/http', ...pluginPackages.map((p) => p.name)]) {
    describe(pkg, () => {
      it('passes every conformance check', async () => {
        const plugin = await load(pkg);
        const companions = await Promise.all((COMPANIONS[plugin.name] ?? []).map(loadByName));
        const seen = new Map<string, Plugin>();
        for (const c of companions) {
          await dependencies(c, seen);
          seen.set(c.name, c);
        }
        const deps = await dependencies(plugin, seen);
        const config = Object.fromEntries([...deps, plugin].map((p) => [p.name, BOOT_OPTIONS[p.name] ?? {}]));
        const results = await checkConformance({ plugin, with: deps, config });
        const failed = results.filter((r) => !r.ok).map((r) => `${r.check}: ${r.message}`);
        expect(failed, `${pkg} failed:\n${failed.join('\n')}`).to.deep.equal([]);
        expect(results.map((r) => r.check)).to.include.members([
          'metadata',
          'boots',
          'health-check',
          'stops',
          'no-leaked-handles',
          'no-global-state',
          'isolated',
        ]);
      });
    });
  }
});
