// An application that keeps everything in memory must not load what its optional collaborators
// need: not @gantry/plugin-redis, not ioredis, not sessions-redis, not prom-client. Everything is
// installed in this repository, so a missing package cannot show it here; a child process records
// every module it loads instead (module.registerHooks) and names their packages.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { bootOptions, REPO } from './workspace.js';

const run = promisify(execFile);

/** Boots `plugins` with their boot options in a fresh Node process; answers the packages it loaded. */
const CHILD = `
import { registerHooks } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const files = new Set();
registerHooks({
  resolve(specifier, context, next) {
    const resolved = next(specifier, context);
    if (resolved.url.startsWith('file:')) files.add(resolved.url);
    return resolved;
  },
});
const { createKernel, silentLogger } = await import('@gantry/core');
const { plugins, options } = JSON.parse(process.env.BOOT);
const config = { plugins: Object.fromEntries(plugins.map((p) => [p, options[p] ?? {}])) };
const kernel = await createKernel({ appDir: process.cwd(), config, env: {}, logger: silentLogger() });
await kernel.start();
await kernel.stop();
const names = new Set();
for (const url of files) {
  for (let dir = path.dirname(fileURLToPath(url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    if (!pkg.name) continue;
    names.add(pkg.name);
    break;
  }
}
process.stdout.write(JSON.stringify({ started: kernel.pluginNames, packages: [...names].sort() }));
`;

describe('packaging: optional collaborators are never loaded when they are not enabled', () => {
  const mailDir = mkdtempSync(path.join(os.tmpdir(), 'gantry-optional-peers-'));
  after(() => rmSync(mailDir, { recursive: true, force: true }));

  it('users + rbac + rate-limit on memory stores load neither ioredis nor redis, sessions-redis or metrics', async function () {
    this.timeout(60_000);
    const plugins = ['http', 'database', 'mailer', 'auth-jwt', 'audit', 'rbac', 'rate-limit', 'users'];
    const options = { ...bootOptions(mailDir), http: { listen: false } };
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', CHILD], {
      cwd: REPO,
      env: { ...process.env, BOOT: JSON.stringify({ plugins, options }) },
      maxBuffer: 16 * 1024 * 1024,
    });
    const { started, packages } = JSON.parse(stdout) as { started: string[]; packages: string[] };
    expect(started).to.have.members(plugins);
    // The probe sees what it must: the plugins themselves and their own dependencies.
    expect(packages).to.include.members([
      '@gantry/plugin-users',
      '@gantry/plugin-rbac',
      '@gantry/plugin-rate-limit',
      'express-rate-limit',
      'jose',
    ]);
    for (const unwanted of [
      'ioredis',
      '@gantry/plugin-redis',
      '@gantry/plugin-sessions-redis',
      '@gantry/plugin-metrics',
      'prom-client',
    ]) {
      expect(packages, `${unwanted} was loaded`).to.not.include(unwanted);
    }
  });
});
