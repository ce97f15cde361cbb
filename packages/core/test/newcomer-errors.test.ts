// Mistakes a newcomer makes on purpose, and the errors they must get: a suggestion, the key as
// written, the plugin that would help, every problem in one pass.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { z } from 'zod';
import { appDirOf, closest, createKernel, defineErrors, silentLogger, token } from '../src/index.js';
import { CORE_URL, plugin, problemsOf, rejection, tempDir } from './helpers.js';

const TestErrors = defineErrors('newcomer-test', {
  SECRET_REQUIRED: { status: 500, title: 'Secret required', fix: 'set "secret"' },
});

describe('core: errors a newcomer can act on', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('gantry-newcomer-')));
  afterEach(() => tmp.remove());

  it('a misspelled plugin name gets "did you mean", and the fix renames the key instead of installing the typo', async () => {
    const err = await rejection(
      createKernel({
        appDir: tmp.dir,
        config: { plugins: { databse: {}, 'rate-limt': {} } },
        env: {},
        logger: silentLogger(),
      }),
    );
    const problems = problemsOf(err);
    expect(problems[0]).to.include('(did you mean "database"?). Fix: rename the key "databse" to "database"');
    expect(problems[1]).to.include('(did you mean "rate-limit"?)');
    for (const p of problems) expect(p).to.not.include('npm install');
  });

  it('a misspelled key that a plugin depends on is one problem, not a second "not enabled" one', async () => {
    const users = plugin('users', { dependsOn: ['database'], requires: [token('gantry.database.Database')] });
    const err = await rejection(
      createKernel({
        appDir: tmp.dir,
        config: { plugins: { databse: {}, users: {} } },
        plugins: [users],
        env: {},
        logger: silentLogger(),
      }),
    );
    expect(problemsOf(err)).to.have.length(1);
    expect(problemsOf(err)[0]).to.include('Fix: rename the key "databse" to "database"');
    // Without the typo the missing dependency is still named (the check can fail).
    const missing = await rejection(
      createKernel({
        appDir: tmp.dir,
        config: { plugins: { users: {} } },
        plugins: [users],
        env: {},
        logger: silentLogger(),
      }),
    );
    expect(problemsOf(missing)).to.have.length(2);
    expect(problemsOf(missing)[0]).to.include('depends on "database", which is not enabled');
  });

  it('an official plugin that is not installed gets the install command; an npm name gets its own', async () => {
    const err = await rejection(
      createKernel({
        appDir: tmp.dir,
        config: { plugins: { 'kafka-events': {}, '@acme/gantry-plugin-foo': {} } },
        env: {},
        logger: silentLogger(),
      }),
    );
    const problems = problemsOf(err);
    expect(problems[0]).to.match(/Fix: npm install @gantry\/plugin-kafka-events$/);
    expect(problems[1]).to.match(/Fix: npm install @acme\/gantry-plugin-foo, or correct the name/);
  });

  it('a misspelled option key gets "did you mean" from the keys the schema allows', async () => {
    const svc = plugin('svc', {
      config: z
        .object({ port: z.number().default(1).describe('p'), smtpUrl: z.string().optional().describe('u') })
        .strict(),
    });
    const err = await rejection(
      createKernel({
        config: { plugins: { svc: { prot: 2, smptUrl: 'smtp://x' } } },
        plugins: [svc],
        env: {},
        logger: silentLogger(),
      }),
    );
    expect(problemsOf(err)[0]).to.include(
      'unknown keys "prot" (did you mean "port"?), "smptUrl" (did you mean "smtpUrl"?); known: port, smtpUrl',
    );
  });

  it('names an npm-named plugin by the key as written, in problems and in the fix', async () => {
    const dir = path.join(tmp.dir, 'node_modules', '@acme', 'gantry-plugin-foo');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: '@acme/gantry-plugin-foo', type: 'module', main: 'index.js' }),
    );
    writeFileSync(
      path.join(dir, 'index.js'),
      `import { definePlugin } from ${JSON.stringify(CORE_URL)};\nimport { z } from 'zod';\n` +
        `export const plugin = definePlugin({ name: 'foo', version: '1.0.0', kernel: '^0.1.0', config: z.object({ level: z.number() }).strict(), register() {} });\n`,
    );
    // zod must resolve from the temp folder's module: link the repo's copy.
    mkdirSync(path.join(tmp.dir, 'node_modules'), { recursive: true });
    const { symlinkSync } = await import('node:fs');
    symlinkSync(
      path.resolve(path.dirname(new URL(CORE_URL).pathname), '../../../../node_modules/zod'),
      path.join(tmp.dir, 'node_modules', 'zod'),
    );
    const err = await rejection(
      createKernel({
        appDir: tmp.dir,
        config: { plugins: { '@acme/gantry-plugin-foo': { level: 'high' } } },
        env: {},
        logger: silentLogger(),
      }),
    );
    expect(problemsOf(err)[0]).to.match(
      /^plugin "foo" \(config key "@acme\/gantry-plugin-foo"\): option "level".*Fix: correct plugins\["@acme\/gantry-plugin-foo"\]/,
    );
  });

  it('a token nobody provides names the official plugin that would provide it', async () => {
    const needy = plugin('needy', { requires: [token('gantry.database.Database')] });
    const err = await rejection(
      createKernel({ config: { plugins: { needy: {} } }, plugins: [needy], env: {}, logger: silentLogger() }),
    );
    expect(problemsOf(err)[0]).to.include(
      'Fix: enable plugin "database" (it provides this token): add "database": {} under "plugins"',
    );
  });

  it('an unknown GANTRY_PROFILE is refused with the others, even without profiles in the file', async () => {
    const err = await rejection(
      createKernel({ config: { plugins: {} }, env: { GANTRY_PROFILE: 'prod' }, logger: silentLogger() }),
    );
    expect(problemsOf(err)[0]).to.equal(
      'profile "prod" (GANTRY_PROFILE) is not defined in the config file; defined: none. Fix: set GANTRY_PROFILE to a defined profile, or add "prod" under "profiles"',
    );
    const typo = await rejection(
      createKernel({
        config: { plugins: {}, profiles: { compose: {} } },
        env: { GANTRY_PROFILE: 'compsoe' },
        logger: silentLogger(),
      }),
    );
    expect(problemsOf(typo)[0]).to.include('(did you mean "compose"?)');
    // Checks made for the profile (validate) would only list consequences of the typo: left out.
    const secretive = plugin('secretive', {
      config: z.object({}).strict(),
      validate: (_o: unknown, { profile }: { profile: string }) =>
        profile === 'embedded' ? [] : [`no secret in profile "${profile}"`],
    });
    const alone = await rejection(
      createKernel({
        config: { plugins: { secretive: {} }, profiles: { compose: {} } },
        plugins: [secretive],
        env: { GANTRY_PROFILE: 'compsoe' },
        logger: silentLogger(),
      }),
    );
    expect(problemsOf(alone)).to.have.length(1);
    const known = await rejection(
      createKernel({
        config: { plugins: { secretive: {} }, profiles: { compose: {} } },
        plugins: [secretive],
        env: { GANTRY_PROFILE: 'compose' },
        logger: silentLogger(),
      }),
    );
    expect(problemsOf(known)).to.deep.equal(['plugin "secretive": no secret in profile "compose"']);
    // The default profile needs no entry.
    await (await createKernel({ config: { plugins: {} }, env: {}, logger: silentLogger() })).stop();
  });

  it('profile-dependent problems of every plugin (validate) come in the same pass as the others, with their codes', async () => {
    const secretive = plugin('secretive', {
      config: z.object({ secret: z.string().optional().describe('s') }).strict(),
      validate: (config: { secret?: string }, setup: { profile: string; plugins: readonly string[] }) => [
        ...(config.secret === undefined && setup.profile !== 'embedded'
          ? [TestErrors.SECRET_REQUIRED(`no secret in profile "${setup.profile}"`)]
          : []),
        ...(setup.plugins.includes('redis') ? [] : ['needs "redis" among the plugins. Fix: enable it']),
      ],
    } as never);
    const typed = plugin('typed', { config: z.object({ port: z.number().describe('p') }).strict() });
    const err = await rejection(
      createKernel({
        config: { plugins: { secretive: {}, typed: { port: 'x' } }, profiles: { compose: {} } },
        plugins: [secretive, typed],
        env: { GANTRY_PROFILE: 'compose' },
        logger: silentLogger(),
      }),
    );
    const problems = problemsOf(err);
    expect(problems).to.have.length(3);
    expect(problems).to.include(
      'plugin "secretive": [GANTRY_NEWCOMER_TEST_SECRET_REQUIRED] no secret in profile "compose". Fix: set "secret"',
    );
    expect(problems).to.include('plugin "secretive": needs "redis" among the plugins. Fix: enable it');
    expect((err.details as { codes: string[] }).codes).to.deep.equal(['GANTRY_NEWCOMER_TEST_SECRET_REQUIRED']);
  });

  it('loads a local plugin written in TypeScript (Node type stripping), with or without its extension', async () => {
    tmp.write(
      'plugins/hello.ts',
      `import { definePlugin } from ${JSON.stringify(CORE_URL)};\n` +
        `const greeting: string = 'hi';\nexport const plugin = definePlugin({ name: 'hello', version: '1.0.0', kernel: '^0.1.0', register() { void greeting; } });\n`,
    );
    for (const key of ['./plugins/hello.ts', './plugins/hello']) {
      const kernel = await createKernel({
        appDir: tmp.dir,
        config: { plugins: { [key]: {} } },
        env: {},
        logger: silentLogger(),
      });
      expect(kernel.pluginNames).to.deep.equal(['hello']);
      await kernel.stop();
    }
  });

  it('a compiled app finds its folder from its entry script, wherever it is started from', () => {
    tmp.write('package.json', '{}');
    tmp.write('gantry.config.json', '{"plugins":{}}');
    const entry = tmp.write('dist/src/main.js', '');
    expect(appDirOf(entry)).to.equal(tmp.dir);
    expect(appDirOf(undefined)).to.equal(process.cwd());
  });

  it('closest() suggests only what is close enough to be a typo', () => {
    expect(closest('databse', ['database', 'metrics'])).to.equal('database');
    expect(closest('Metrics', ['database', 'metrics'])).to.equal('metrics');
    expect(closest('websocketz', ['websocket'])).to.equal('websocket');
    expect(closest('payments', ['database', 'metrics', 'users'])).to.equal(undefined);
    expect(closest('mfa', ['rbac', 'audit'])).to.equal(undefined);
  });
});
