import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { z } from 'zod';
import { createKernel, silentLogger, token, topoSort } from '../src/index.js';
import { CORE_URL, FIXTURES, kernelOf, plugin, problemsOf, rejection, tempDir } from './helpers.js';

const Missing = token<string>('test.boot.Missing');

describe('createKernel: boot checks', () => {
  it('collects every problem of the setup into one GANTRY_CORE_BOOT_INVALID', async () => {
    const tmp = tempDir();
    try {
      const plugins = [
        plugin('old', { kernel: '^2.0.0', version: '3.1.0' }),
        plugin('lonely', { dependsOn: ['ghost'] }),
        plugin('cyc-a', { dependsOn: ['cyc-b'] }),
        plugin('cyc-b', { dependsOn: ['cyc-a'] }),
        plugin('needy', { requires: [Missing] }),
        plugin('typed', { config: z.object({ port: z.number().int().describe('port') }) }),
      ];
      const err = await rejection(
        createKernel({
          appDir: tmp.dir,
          config: {
            plugins: {
              old: {},
              lonely: {},
              'cyc-a': {},
              'cyc-b': {},
              needy: {},
              typed: { port: 'eighty' },
              'no-such-plugin-xyz': {},
            },
          },
          plugins,
          env: {},
          logger: silentLogger(),
        }),
      );
      const problems = problemsOf(err);
      expect(problems).to.have.length(6);
      expect(err.message).to.include('the application cannot start: 6 problems');
      const expectProblem = (...parts: string[]): void => {
        const hit = problems.find((p) => parts.every((part) => p.includes(part)));
        expect(hit, `no problem contains ${parts.join(' + ')} in:\n${problems.join('\n')}`).to.be.a('string');
        for (const part of parts) expect(err.message).to.include(part);
      };
      // No Gantry plugin has this name: the fix never says to install a package nobody published.
      expectProblem(
        'plugin "no-such-plugin-xyz"',
        'cannot find package @gantry/plugin-no-such-plugin-xyz or @gantry/no-such-plugin-xyz',
        'no Gantry plugin has this name',
      );
      expectProblem('plugin "old" 3.1.0 supports kernel ^2.0.0, but this kernel is 0.1.0');
      expectProblem('plugin "lonely" depends on "ghost", which is not enabled', 'add "ghost": {}');
      expectProblem('dependency cycle: cyc-a → cyc-b → cyc-a');
      expectProblem('plugin "needy" requires token "test.boot.Missing", which no enabled plugin provides');
      expectProblem('plugin "typed": option "port"', '(got "eighty")', 'expected number');
    } finally {
      tmp.remove();
    }
  });

  it("takes the default logger's level from LOG_LEVEL (kernel.logLevel wins), and refuses an unknown level", async () => {
    const fromEnv = await createKernel({ config: { plugins: {} }, plugins: [], env: { LOG_LEVEL: 'ERROR' } });
    expect((fromEnv.logger as unknown as { level: string }).level).to.equal('error');
    const fromConfig = await createKernel({
      config: { plugins: {}, kernel: { logLevel: 'debug' } },
      plugins: [],
      env: { LOG_LEVEL: 'error' },
    });
    expect((fromConfig.logger as unknown as { level: string }).level).to.equal('debug');
    const unset = await createKernel({ config: { plugins: {} }, plugins: [], env: {} });
    expect((unset.logger as unknown as { level: string }).level).to.equal('info');
    const err = await rejection(createKernel({ config: { plugins: {} }, plugins: [], env: { LOG_LEVEL: 'loud' } }));
    expect(problemsOf(err)).to.deep.equal([
      'environment variable LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent, got "loud"',
    ]);
  });

  it('names the packages tried and the fix for an unknown plugin', async () => {
    const tmp = tempDir();
    try {
      const err = await rejection(
        createKernel({ appDir: tmp.dir, config: { plugins: { 'nope-nope': {} } }, env: {}, logger: silentLogger() }),
      );
      const [problem] = problemsOf(err);
      expect(problem).to.equal(
        `plugin "nope-nope": cannot find package @gantry/plugin-nope-nope or @gantry/nope-nope or nope-nope from ${tmp.dir}, and no Gantry plugin has this name. Fix: correct the name (a short name stands for @gantry/plugin-<name>), use the plugin's full npm name, or a path such as "./plugins/nope-nope.js"`,
      );
    } finally {
      tmp.remove();
    }
  });

  it('refuses a plugin made for another kernel major', async () => {
    const err = await rejection(kernelOf([plugin('future', { kernel: '>=1.0.0' })]));
    expect(problemsOf(err)).to.deep.equal([
      'plugin "future" 1.0.0 supports kernel >=1.0.0, but this kernel is 0.1.0. Fix: install a version of the plugin made for kernel 0.1.0, or upgrade @gantry/core',
    ]);
  });

  it('reports a missing dependency with the config line that fixes it', async () => {
    const err = await rejection(kernelOf([plugin('users', { dependsOn: ['database', 'http'] })]));
    const problems = problemsOf(err);
    expect(problems).to.have.length(2);
    expect(problems[0]).to.equal(
      'plugin "users" depends on "database", which is not enabled. Fix: add "database": {} under "plugins" in the config file',
    );
    expect(problems[1]).to.include('depends on "http"');
  });

  it('prints a dependency cycle as the whole path a → b → c → a', async () => {
    const err = await rejection(
      kernelOf([
        plugin('a', { dependsOn: ['b'] }),
        plugin('b', { dependsOn: ['c'] }),
        plugin('c', { dependsOn: ['a'] }),
        plugin('d', { dependsOn: ['a'] }),
      ]),
    );
    const problems = problemsOf(err);
    expect(problems).to.deep.equal([
      'dependency cycle: a → b → c → a. Fix: remove one of these dependencies (or make it optionalDependsOn)',
    ]);
  });

  it('finds cycles made through requires → provides', async () => {
    const A = token<number>('test.cycle.A');
    const B = token<number>('test.cycle.B');
    const err = await rejection(
      kernelOf([
        plugin('pa', { provides: [A], requires: [B], register: (ctx) => ctx.provide(A, 1) }),
        plugin('pb', { provides: [B], requires: [A], register: (ctx) => ctx.provide(B, 2) }),
      ]),
    );
    expect(problemsOf(err)[0]).to.include('dependency cycle: pa → pb → pa');
  });

  it('reports a required token no enabled plugin provides', async () => {
    const err = await rejection(kernelOf([plugin('mailer', { requires: [Missing] })]));
    expect(problemsOf(err)).to.deep.equal([
      'plugin "mailer" requires token "test.boot.Missing", which no enabled plugin provides. Fix: enable the plugin that provides it (see the README of the package exporting this token)',
    ]);
  });

  it('reports invalid options with the field, the value and what was expected', async () => {
    const schema = z.object({
      port: z.number().int().min(1).describe('port'),
      mode: z.enum(['fast', 'safe']).describe('mode'),
      nested: z.object({ retries: z.number().describe('retries') }).describe('nested'),
    });
    const err = await rejection(
      kernelOf([plugin('svc', { config: schema })], {
        options: { svc: { port: 0, mode: 'turbo', nested: { retries: 'x' } } },
      }),
    );
    const problems = problemsOf(err);
    expect(problems).to.have.length(3);
    expect(problems[0]).to.match(
      /^plugin "svc": option "port": .*>=1.* \(got 0\)\. Fix: correct plugins\["svc"\] in the config file or its GANTRY_SVC__\* variables$/,
    );
    expect(problems[1]).to.match(/^plugin "svc": option "mode": .*"fast".*"safe".* \(got "turbo"\)/);
    expect(problems[2]).to.match(/^plugin "svc": option "nested\.retries": .*expected number.* \(got "x"\)/);
  });

  it('reports a required option with no default (a secret) that is missing', async () => {
    const schema = z.object({
      apiKey: z.string().min(1).describe('API key; no default on purpose'),
      region: z.string().default('eu').describe('region'),
    });
    const err = await rejection(kernelOf([plugin('payments', { config: schema })]));
    expect(problemsOf(err)).to.have.length(1);
    expect(problemsOf(err)[0]).to.match(/^plugin "payments": option "apiKey": .*expected string.* \(got nothing\)/);
  });

  it('reports unknown options of a strict schema and options given to a plugin that takes none', async () => {
    const err = await rejection(
      kernelOf(
        [plugin('strict', { config: z.object({ a: z.number().default(1).describe('a') }).strict() }), plugin('bare')],
        { options: { strict: { b: 2 }, bare: { x: 1 } } },
      ),
    );
    const problems = problemsOf(err);
    expect(problems.some((p) => p.startsWith('plugin "strict": option "(options)"') && p.includes('"b"'))).to.equal(
      true,
    );
    expect(problems).to.include('plugin "bare" takes no options, got x. Fix: use {} for it');
  });

  it('refuses two plugins providing one token, and a plugin enabled twice', async () => {
    const T = token<number>('test.boot.Shared');
    const one = plugin('one', { provides: [T] });
    const err = await rejection(kernelOf([one, plugin('two', { provides: [T] })]));
    expect(problemsOf(err)).to.deep.equal([
      'token "test.boot.Shared" is provided by "one" and "two". Fix: enable only one of them',
    ]);

    // Resolved from inside the repo, where node_modules holds @gantry/http.
    const twice = await rejection(
      createKernel({
        appDir: FIXTURES,
        config: { plugins: { http: {}, '@gantry/http': {} } },
        env: {},
        logger: silentLogger(),
      }),
    );
    expect(problemsOf(twice)).to.deep.equal([
      'plugin "http" is enabled twice (as "http" and "@gantry/http"). Fix: keep one key',
    ]);

    // Two different plugins under one name: keeping one key would drop one of them; the fix renames.
    const dir = tempDir('gantry-boot-samename-');
    try {
      const local = (file: string) =>
        writeFileSync(
          path.join(dir.dir, file),
          `import { definePlugin } from ${JSON.stringify(CORE_URL)};\nexport const plugin = definePlugin({ name: 'audit', version: '1.0.0', kernel: '^0.1.0', register() {} });\n`,
        );
      local('audit-a.js');
      local('audit-b.js');
      const clash = await rejection(
        createKernel({
          appDir: dir.dir,
          config: { plugins: { './audit-a.js': {}, './audit-b.js': {} } },
          env: {},
          logger: silentLogger(),
        }),
      );
      expect(problemsOf(clash)).to.have.length(1);
      expect(problemsOf(clash)[0]).to.match(
        /^two different plugins are named "audit": "\.\/audit-a\.js" \(.*audit-a\.js\) and "\.\/audit-b\.js" \(.*audit-b\.js\)\. Fix: give one of them another name in its definePlugin\(\{ name \}\), or disable one$/,
      );
    } finally {
      dir.remove();
    }
  });

  it('validates kernel settings and reports them next to plugin problems', async () => {
    const err = await rejection(
      kernelOf([plugin('fine')], {
        config: { plugins: { fine: {} }, kernel: { hookTimeoutMs: -5, nope: true } as never },
      }),
    );
    const problems = problemsOf(err);
    expect(problems.some((p) => p.startsWith('kernel: option "hookTimeoutMs"') && p.includes('(got -5)'))).to.equal(
      true,
    );
    expect(problems.some((p) => p.startsWith('kernel: option "(options)"') && p.includes('"nope"'))).to.equal(true);
  });

  it('fails with GANTRY_CORE_CONFIG_FILE_INVALID when there is no config at all', async () => {
    const tmp = tempDir();
    try {
      const err = await rejection(createKernel({ appDir: tmp.dir, env: {}, logger: silentLogger() }));
      expect(err.code).to.equal('GANTRY_CORE_CONFIG_FILE_INVALID');
      expect(err.message).to.include(`no config file in ${tmp.dir}`);
      expect(err.fix).to.include('gantry.config.json');
    } finally {
      tmp.remove();
    }
  });

  it('refuses an unknown profile, naming the defined ones', async () => {
    const err = await rejection(
      createKernel({
        config: { plugins: {}, profiles: { compose: {}, prod: {} } },
        profile: 'staging',
        env: {},
        logger: silentLogger(),
      }),
    );
    expect(err.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect(problemsOf(err)).to.deep.equal([
      'profile "staging" is not defined in the config file; defined: compose, prod. Fix: set GANTRY_PROFILE to a defined profile, or add "staging" under "profiles"',
    ]);
  });

  it('creates nothing and starts nothing when the setup is invalid', async () => {
    let registered = false;
    await rejection(
      kernelOf([
        plugin('eager', { register: () => void (registered = true) }),
        plugin('broken', { dependsOn: ['ghost'] }),
      ]),
    );
    expect(registered).to.equal(false);
  });
});

describe('topoSort', () => {
  it('keeps input order for independent nodes and puts dependencies first', () => {
    const { order, cycles } = topoSort([
      { name: 'api', after: ['db', 'http'] },
      { name: 'http', after: [] },
      { name: 'db', after: [] },
      { name: 'log', after: [] },
    ]);
    expect(cycles).to.deep.equal([]);
    expect(order).to.deep.equal(['db', 'http', 'api', 'log']);
  });

  it('reports each cycle once, ignoring edges to unknown nodes', () => {
    const { cycles } = topoSort([
      { name: 'a', after: ['b', 'outside'] },
      { name: 'b', after: ['a'] },
      { name: 'c', after: ['c2'] },
      { name: 'c2', after: ['c3'] },
      { name: 'c3', after: ['c'] },
    ]);
    expect(cycles).to.deep.equal([
      ['a', 'b', 'a'],
      ['c', 'c2', 'c3', 'c'],
    ]);
  });
});
