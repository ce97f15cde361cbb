import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { CLI_VERSION, pluginNames } from '../src/index.js';
import { gantry, MOCHA, node, repoTemp, TSC } from './support.js';

function tree(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? tree(dir, path.join(rel, e.name)) : [path.join(rel, e.name)]))
    .sort();
}

describe('gantry new plugin', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof repoTemp>;
  beforeEach(() => {
    tmp = repoTemp('plugin');
  });
  afterEach(() => tmp.remove());

  it('writes a package in the house shape that builds, and whose own tests pass, the conformance kit included', async () => {
    const res = await gantry(['new', 'plugin', 'greeting-card', '--cwd', tmp.dir]);
    expect(res.code, res.stderr).to.equal(0);
    const dir = path.join(tmp.dir, 'greeting-card');
    expect(tree(dir)).to.deep.equal(
      [
        '.gitignore',
        '.mocharc.json',
        'CHANGELOG.md',
        'README.md',
        'package.json',
        'src/config.ts',
        'src/errors.ts',
        'src/greeter.ts',
        'src/index.ts',
        'src/plugin.ts',
        'src/tokens.ts',
        'test/plugin.test.ts',
        'tsconfig.json',
      ].sort(),
    );
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
    expect(pkg).to.include({ name: 'gantry-plugin-greeting-card', type: 'module' });
    expect(pkg.exports['.']).to.deep.equal({ types: './dist/src/index.d.ts', default: './dist/src/index.js' });
    expect(pkg.peerDependencies).to.deep.equal({ '@gantry/core': `^${CLI_VERSION}` });
    const readme = readFileSync(path.join(dir, 'README.md'), 'utf8');
    for (const section of [
      '## Install',
      '## Enable in config',
      '## Options',
      '## Tokens provided and required',
      '## HTTP routes',
      '## Lifecycle',
      '## Errors',
      '## Metrics',
    ]) {
      expect(readme, section).to.include(section);
    }
    expect(readme).to.include('`GANTRY_GREETING_CARD_NAME_INVALID` | 400');
    expect(readFileSync(path.join(dir, 'src/tokens.ts'), 'utf8')).to.include(
      "export const GreetingCardToken = token<GreetingCard>('gantry-plugin-greeting-card.GreetingCard');",
    );
    expect(readFileSync(path.join(dir, 'test/plugin.test.ts'), 'utf8')).to.include('checkConformance');

    const build = await node([TSC, '-p', dir], { cwd: dir });
    expect(build.code, build.stdout + build.stderr).to.equal(0);
    const tests = await node([MOCHA], { cwd: dir });
    expect(tests.code, tests.stdout + tests.stderr).to.equal(0);
    expect(tests.stdout).to.include('passes every check of the conformance kit').and.include('3 passing');

    // The built package is a plugin an app can enable by path.
    const app = repoTemp('plugin-app');
    try {
      app.write(
        'gantry.config.json',
        JSON.stringify({
          plugins: { http: {}, [`${path.relative(app.dir, dir)}/dist/src/index.js`]: { greeting: 'Hey' } },
        }),
      );
      const routes = await gantry(['routes', '--json', '--cwd', app.dir]);
      expect(routes.code, routes.stderr).to.equal(0);
      expect(JSON.parse(routes.stdout).routes).to.deep.include({
        method: 'GET',
        path: '/api/v1/greeting-card/greet',
        plugin: 'greeting-card',
        auth: 'public',
        rateLimit: 'off',
      });
    } finally {
      app.remove();
    }
  });

  it('takes a package name (scoped or not) and derives the plugin name from it', async () => {
    expect(pluginNames('hello')).to.deep.equal({ plugin: 'hello', pkg: 'gantry-plugin-hello' });
    expect(pluginNames('@acme/gantry-plugin-audit-log')).to.deep.equal({
      plugin: 'audit-log',
      pkg: '@acme/gantry-plugin-audit-log',
    });
    expect(pluginNames('gantry-plugin-x9')).to.deep.equal({ plugin: 'x9', pkg: 'gantry-plugin-x9' });
    const res = await gantry([
      'new',
      'plugin',
      '@acme/gantry-plugin-audit-log',
      '--dir',
      'packages/audit-log',
      '--cwd',
      tmp.dir,
    ]);
    expect(res.code, res.stderr).to.equal(0);
    const pkg = JSON.parse(readFileSync(path.join(tmp.dir, 'packages/audit-log/package.json'), 'utf8'));
    expect(pkg.name).to.equal('@acme/gantry-plugin-audit-log');
    expect(readFileSync(path.join(tmp.dir, 'packages/audit-log/src/plugin.ts'), 'utf8')).to.include(
      "name: 'audit-log'",
    );
  });

  it('--registry is written to .npmrc so later installs of the plugin use it; a non-http URL is refused', async () => {
    const res = await gantry(['new', 'plugin', 'reg', '--registry', 'https://npm.example.test/', '--cwd', tmp.dir]);
    expect(res.code, res.stderr).to.equal(0);
    expect(readFileSync(path.join(tmp.dir, 'reg/.npmrc'), 'utf8')).to.equal('registry=https://npm.example.test/\n');
    const none = await gantry(['new', 'plugin', 'plain', '--cwd', tmp.dir]);
    expect(none.code, none.stderr).to.equal(0);
    expect(tree(tmp.dir).filter((f) => f.endsWith('.npmrc'))).to.deep.equal(['reg/.npmrc']);
    const bad = await gantry(['new', 'plugin', 'badreg', '--registry', 'not a url', '--cwd', tmp.dir]);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('--registry "not a url" is not an http(s) URL');
    expect(tree(tmp.dir).some((f) => f.startsWith('badreg/'))).to.equal(false);
  });

  it('refuses a name that is not kebab-case and a non-empty folder', async () => {
    const bad = await gantry(['new', 'plugin', 'Greeting_Card', '--cwd', tmp.dir]);
    expect(bad.code).to.equal(1);
    expect(bad.stderr).to.include('[GANTRY_CLI_NAME_INVALID] plugin name "Greeting_Card" is not kebab-case');
    tmp.write('hello/x', '');
    const taken = await gantry(['new', 'plugin', 'hello', '--cwd', tmp.dir]);
    expect(taken.code).to.equal(1);
    expect(taken.stderr).to.include('[GANTRY_CLI_TARGET_NOT_EMPTY]');
    expect(tree(tmp.dir)).to.deep.equal(['hello/x']);
  });
});
