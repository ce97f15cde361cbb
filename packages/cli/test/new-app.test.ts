import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { CLI_VERSION, loadCatalog } from '../src/index.js';
import { gantry, MOCHA, node, REPO, repoTemp, TSC } from './support.js';

/** Every file under `dir`, relative, sorted. */
function tree(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? tree(dir, path.join(rel, e.name)) : [path.join(rel, e.name)]))
    .sort();
}

const json = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));

describe('gantry new app', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof repoTemp>;
  beforeEach(() => {
    tmp = repoTemp('app');
  });
  afterEach(() => tmp.remove());

  it('writes a working app (default plugins: sign-up and login) that compiles against the workspace and passes its own tests', async () => {
    const res = await gantry(['new', 'app', 'shop-api', '--no-install', '--cwd', tmp.dir]);
    expect(res.code, res.stderr).to.equal(0);
    const app = path.join(tmp.dir, 'shop-api');
    expect(res.stdout).to.include(`Created shop-api in ${app}`).and.include('npm install').and.include('npm start');
    expect(tree(app)).to.deep.equal(
      [
        '.dockerignore',
        '.gitignore',
        '.mocharc.json',
        'Dockerfile',
        'README.md',
        'gantry.config.json',
        'package.json',
        'src/hello/plugin.ts',
        'src/main.ts',
        'test/accounts.test.ts',
        'test/app.test.ts',
        'test/boot.ts',
        'test/tsconfig.json',
        'tsconfig.json',
      ].sort(),
    );

    const pkg = json(path.join(app, 'package.json'));
    expect(pkg).to.include({ name: 'shop-api', type: 'module', private: true });
    expect(pkg.scripts).to.include({ start: 'tsc && exec node dist/main.js', test: 'tsc && tsc -p test && mocha' });
    const range = `^${CLI_VERSION}`;
    expect(pkg.dependencies).to.include({
      '@gantry/core': range,
      '@gantry/http': range,
      '@gantry/plugin-users': range,
      '@gantry/plugin-database': range,
    });
    expect(pkg.devDependencies).to.include({ '@gantry/testing': range, '@gantry/cli': range });
    const config = json(path.join(app, 'gantry.config.json'));
    expect(Object.keys(config.plugins)).to.deep.equal([
      'http',
      'metrics',
      'database',
      'mailer',
      'audit',
      'auth-jwt',
      'rbac',
      'users',
      'rate-limit',
      './dist/hello/plugin.js',
    ]);
    expect(config.plugins.database).to.deep.equal({ driver: 'sqlite', dbName: 'var/data.sqlite' });
    expect(config.plugins['auth-jwt']).to.deep.equal({ issuer: 'http://localhost:3000', audience: 'shop-api' });
    expect(config).not.to.have.property('profiles');
    for (const f of ['tsconfig.json', 'test/tsconfig.json', '.mocharc.json']) json(path.join(app, f));
    expect(readFileSync(path.join(app, 'src/main.ts'), 'utf8')).to.include("import { runMain } from '@gantry/core'");
    expect(readFileSync(path.join(app, '.gitignore'), 'utf8'))
      .to.match(/^node_modules\/$/m)
      .and.match(/^var\/$/m);
    const docker = readFileSync(path.join(app, 'Dockerfile'), 'utf8');
    expect(docker.match(/^FROM node:24-slim/gm)).to.have.length(2);
    expect(docker)
      .to.match(/^USER node$/m)
      .and.match(/^HEALTHCHECK .*\n.*\/healthz/m)
      .and.match(/^CMD \["node", "dist\/main.js"\]$/m);
    const readme = readFileSync(path.join(app, 'README.md'), 'utf8');
    expect(readme).to.include('# shop-api').and.include('`@gantry/plugin-users`').and.include('/api/v1/auth/signup');
    expect(readme).not.to.match(/\{\{\w+\}\}/);

    // Compiled with the repository's tsc against the workspace packages (found up the folders), then its own tests.
    const build = await node([TSC, '-p', app], { cwd: app });
    expect(build.code, build.stdout + build.stderr).to.equal(0);
    const buildTests = await node([TSC, '-p', path.join(app, 'test')], { cwd: app });
    expect(buildTests.code, buildTests.stdout + buildTests.stderr).to.equal(0);
    const tests = await node([MOCHA], { cwd: app });
    expect(tests.code, tests.stdout + tests.stderr).to.equal(0);
    expect(tests.stdout).to.include('4 passing').and.include('signs up, verifies the mailed link, signs in');

    // The built app passes the CLI's own checks.
    const check = await gantry(['config', 'check', '--cwd', app]);
    expect(check.code, check.stdout).to.equal(0);
    const routes = await gantry(['routes', '--json', '--cwd', app]);
    const list = JSON.parse(routes.stdout).routes as Record<string, string>[];
    expect(list).to.deep.include({
      method: 'GET',
      path: '/api/v1/hello',
      plugin: 'hello',
      auth: 'public',
      rateLimit: 'default',
    });
    expect(list.find((r) => r.path === '/api/v1/users/me')?.auth).to.equal('authenticated');
  });

  it('enables the plugins asked for and what they depend on, and no accounts test without users', async () => {
    const res = await gantry(['new', 'app', 'tiny', '--plugins', 'metrics,audit', '--no-install', '--cwd', tmp.dir]);
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.include('added http (needed by every app)').and.include('added database (needed by audit)');
    const app = path.join(tmp.dir, 'tiny');
    expect(Object.keys(json(path.join(app, 'gantry.config.json')).plugins)).to.deep.equal([
      'http',
      'metrics',
      'database',
      'audit',
      './dist/hello/plugin.js',
    ]);
    expect(
      Object.keys(json(path.join(app, 'package.json')).dependencies).filter((d) => d.startsWith('@gantry/')),
    ).to.deep.equal([
      '@gantry/core',
      '@gantry/http',
      '@gantry/plugin-audit',
      '@gantry/plugin-database',
      '@gantry/plugin-metrics',
    ]);
    expect(existsSync(path.join(app, 'test/accounts.test.ts'))).to.equal(false);
    expect(readFileSync(path.join(app, 'README.md'), 'utf8')).not.to.include('/auth/signup');
  });

  it('with --profile compose adds a compose profile: PostgreSQL, SMTP, and Redis for the shared stores', async () => {
    const res = await gantry(['new', 'app', 'my.app', '--profile', 'compose', '--no-install', '--cwd', tmp.dir]);
    expect(res.code, res.stderr).to.equal(0);
    const config = json(path.join(tmp.dir, 'my.app', 'gantry.config.json'));
    expect(config.plugins.redis).to.equal(false);
    const compose = config.profiles.compose.plugins;
    expect(compose.database).to.deep.equal({
      driver: 'postgresql',
      host: 'postgres',
      port: 5432,
      dbName: 'my_app',
      user: 'my_app',
    });
    expect(compose.redis).to.deep.equal({ url: 'redis://redis:6379' });
    expect(compose.mailer).to.deep.equal({ transport: 'smtp', smtpUrl: 'smtp://mailhog:1025' });
    expect(config.plugins.mailer.from).to.equal('my.app <noreply@my-app.localhost>');
  });

  it('refuses a non-empty folder, unknown plugins, plugins needing hand-written setup and invalid names, writing nothing', async () => {
    tmp.write('taken/file.txt', 'x');
    const taken = await gantry(['new', 'app', 'taken', '--no-install', '--cwd', tmp.dir]);
    expect(taken.code).to.equal(1);
    expect(taken.stderr).to.include('[GANTRY_CLI_TARGET_NOT_EMPTY]').and.include('Fix:');
    expect(tree(path.join(tmp.dir, 'taken'))).to.deep.equal(['file.txt']);

    const unknown = await gantry(['new', 'app', 'a1', '--plugins', 'users,metricz', '--no-install', '--cwd', tmp.dir]);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.include('[GANTRY_CLI_PLUGIN_UNKNOWN] unknown plugin "metricz" (known: http, metrics,');
    const oauth = await gantry(['new', 'app', 'a2', '--plugins', 'oauth', '--no-install', '--cwd', tmp.dir]);
    expect(oauth.code).to.equal(1);
    expect(oauth.stderr).to.include('[GANTRY_CLI_PLUGIN_NEEDS_SETUP]').and.include('provider');
    const name = await gantry(['new', 'app', 'Bad Name', '--no-install', '--cwd', tmp.dir]);
    expect(name.code).to.equal(1);
    expect(name.stderr).to.include('[GANTRY_CLI_NAME_INVALID]');
    const range = await gantry([
      'new',
      'app',
      'a3',
      '--gantry-version',
      'not-a-range',
      '--no-install',
      '--cwd',
      tmp.dir,
    ]);
    expect(range.code).to.equal(2);
    expect(range.stderr).to.include('[GANTRY_CLI_USAGE]');
    const profile = await gantry(['new', 'app', 'a4', '--profile', 'prod', '--no-install', '--cwd', tmp.dir]);
    expect(profile.code).to.equal(2);
    expect(profile.stderr).to.include('Allowed choices are embedded, compose');
    expect(tree(tmp.dir)).to.deep.equal(['taken/file.txt']);
  });

  it('runs npm install in the new folder with --registry, and @gantry/* at --gantry-version; a failed install exits 1', async () => {
    // A stand-in npm first on PATH: it records where and how it was called.
    const bin = path.join(tmp.dir, 'bin');
    const log = path.join(tmp.dir, 'npm-calls.log');
    tmp.write('bin/npm', `#!/bin/sh\necho "$PWD|$*" >> '${log}'\nexit "\${FAKE_NPM_EXIT:-0}"\n`);
    chmodSync(path.join(bin, 'npm'), 0o755);
    const env = { PATH: `${bin}${path.delimiter}${process.env.PATH}` };
    const res = await gantry(
      ['new', 'app', 'fetched', '--registry', 'http://127.0.0.1:4873', '--gantry-version', '0.3.1', '--cwd', tmp.dir],
      { env },
    );
    expect(res.code, res.stderr).to.equal(0);
    const app = path.join(tmp.dir, 'fetched');
    expect(readFileSync(log, 'utf8').trim().split('\n')).to.deep.equal([
      `${app}|install --no-audit --no-fund --registry http://127.0.0.1:4873`,
    ]);
    // Later installs in the app (npm ci in its README) stay on that registry.
    expect(readFileSync(path.join(app, '.npmrc'), 'utf8')).to.equal('registry=http://127.0.0.1:4873/\n');
    expect(res.stdout).to.include('.npmrc: registry=http://127.0.0.1:4873/');
    const bad = await gantry(['new', 'app', 'badreg', '--registry', 'file:///tmp/x', '--cwd', tmp.dir], { env });
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('--registry "file:///tmp/x" is not an http(s) URL');
    expect(existsSync(path.join(tmp.dir, 'badreg'))).to.equal(false);
    const pkg = json(path.join(app, 'package.json'));
    expect(pkg.dependencies['@gantry/core']).to.equal('0.3.1');
    expect(pkg.dependencies['@gantry/plugin-users']).to.equal('0.3.1');
    expect(pkg.devDependencies['@gantry/testing']).to.equal('0.3.1');

    const failed = await gantry(['new', 'app', 'broken', '--cwd', tmp.dir], { env: { ...env, FAKE_NPM_EXIT: '3' } });
    expect(failed.code).to.equal(1);
    expect(failed.stderr).to.include('[GANTRY_CLI_INSTALL_FAILED] npm install exited with code 3');
  });
});

describe('gantry new app: the catalog and templates stay true to the repository', () => {
  it("each plugin's dependsOn in the catalog is the plugin's own", async () => {
    for (const [name, entry] of loadCatalog()) {
      const mod = (await import(entry.package)) as { plugin: { name: string; dependsOn?: readonly string[] } };
      expect(mod.plugin.name, entry.package).to.equal(name);
      expect([...entry.dependsOn].sort(), name).to.deep.equal([...(mod.plugin.dependsOn ?? [])].sort());
    }
  });

  it('the generated devDependencies use the versions the repository builds and tests with', () => {
    const root = json(path.join(REPO, 'package.json')).devDependencies as Record<string, string>;
    for (const template of ['app', 'plugin']) {
      const dev = json(path.join(REPO, 'packages/cli/templates', template, 'package.json')).devDependencies as Record<
        string,
        string
      >;
      for (const [dep, range] of Object.entries(dev))
        if (!dep.startsWith('@gantry/')) expect(range, `${template}: ${dep}`).to.equal(root[dep]);
    }
  });

  it('the templates ship in the package (files), and the built bin starts with a node shebang', () => {
    const pkg = json(path.join(REPO, 'packages/cli/package.json'));
    expect(pkg.files).to.include('templates');
    expect(pkg.bin).to.deep.equal({ gantry: './dist/src/bin.js' });
    const bin = readFileSync(path.join(REPO, 'packages/cli/dist/src/bin.js'), 'utf8');
    expect(bin.startsWith('#!/usr/bin/env node\n')).to.equal(true);
    expect(statSync(path.join(REPO, 'packages/cli/templates/catalog.json')).isFile()).to.equal(true);
  });
});
