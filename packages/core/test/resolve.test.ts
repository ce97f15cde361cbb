import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { candidatesFor, createKernel, isPlugin, resolvePlugin, silentLogger, type Token, token } from '../src/index.js';
import { CORE_URL, FIXTURES, plugin, problemsOf, rejection, tempDir } from './helpers.js';

const APP = path.join(FIXTURES, 'app');

/** Writes an installed package `name` into `<dir>/node_modules` whose entry defines plugin `pluginName`. */
function installFake(
  tmp: ReturnType<typeof tempDir>,
  name: string,
  pluginName: string,
  pkg: Record<string, unknown>,
  entry: string,
): void {
  tmp.write(`node_modules/${name}/package.json`, JSON.stringify({ name, version: '1.0.0', type: 'module', ...pkg }));
  tmp.write(
    `node_modules/${name}/${entry}`,
    `import { definePlugin, token } from ${JSON.stringify(CORE_URL)};\n` +
      `export const SourceToken = token('fixture.${pluginName}.Source');\n` +
      `export const plugin = definePlugin({ name: ${JSON.stringify(pluginName)}, version: '1.0.0', kernel: '^0.1.0', register() {} });\n`,
  );
}

describe('plugin resolution', () => {
  it('candidatesFor: short name → @gantry/plugin-<name>, then @gantry/<name>, then the bare name', () => {
    expect(candidatesFor('auth-jwt')).to.deep.equal(['@gantry/plugin-auth-jwt', '@gantry/auth-jwt', 'auth-jwt']);
    expect(candidatesFor('@acme/gantry-x')).to.deep.equal(['@acme/gantry-x']);
    expect(candidatesFor('./local')).to.deep.equal(['./local']);
  });

  it('resolves the short name `http` to @gantry/http from the repo’s node_modules', async () => {
    const r = await resolvePlugin('http', FIXTURES);
    if (!r.ok) expect.fail(r.problem);
    expect(r.value.plugin.name).to.equal('http');
    expect(r.value.from).to.equal(path.resolve(FIXTURES, '../../../../node_modules/@gantry/http/dist/src/index.js'));
    const http = (await import('@gantry/http' as string)) as { plugin: unknown };
    // Same module instance as a plain import: one plugin value, one error registry.
    expect(r.value.plugin).to.equal(http.plugin);
  });

  it('resolves a full npm name', async () => {
    const r = await resolvePlugin('@gantry/http', FIXTURES);
    if (!r.ok) expect.fail(r.problem);
    expect(r.value.plugin.name).to.equal('http');
  });

  it('prefers @gantry/plugin-<name> over @gantry/<name>, honouring "exports" conditions and "main"', async () => {
    const tmp = tempDir();
    try {
      installFake(
        tmp,
        '@gantry/plugin-echo',
        'echo',
        { exports: { '.': { types: './x.d.ts', import: './dist/entry.mjs' } } },
        'dist/entry.mjs',
      );
      installFake(tmp, '@gantry/echo', 'echo-builtin', { main: 'main.js' }, 'main.js');
      installFake(tmp, 'acme-gantry-thing', 'acme-thing', { main: 'lib/index.js' }, 'lib/index.js');
      const echo = await resolvePlugin('echo', path.join(tmp.dir, 'deep', 'app'));
      if (!echo.ok) expect.fail(echo.problem);
      expect(echo.value.plugin.name).to.equal('echo');
      expect(echo.value.from).to.equal(path.join(tmp.dir, 'node_modules/@gantry/plugin-echo/dist/entry.mjs'));

      tmp.write('gantry.config.json', JSON.stringify({ plugins: { echo: {}, 'acme-gantry-thing': {} } }));
      const kernel = await createKernel({ appDir: tmp.dir, env: {}, logger: silentLogger() });
      expect(kernel.pluginNames).to.have.members(['echo', 'acme-thing']);
    } finally {
      tmp.remove();
    }
  });

  it('finds packages from the app folder too when the config file lives elsewhere (GANTRY_CONFIG)', async () => {
    const tmp = tempDir();
    try {
      tmp.write('gantry.config.json', JSON.stringify({ plugins: { http: { listen: false } } }));
      const kernel = await createKernel({
        appDir: FIXTURES,
        env: { GANTRY_CONFIG: path.join(tmp.dir, 'gantry.config.json') },
        logger: silentLogger(),
      });
      expect(kernel.pluginNames).to.deep.equal(['http']);
      expect(kernel.appDir).to.equal(tmp.dir);
    } finally {
      tmp.remove();
    }
  });

  it('loads a local plugin by a path relative to the config file', async () => {
    const kernel = await createKernel({ appDir: APP, env: {}, logger: silentLogger() });
    expect(kernel.pluginNames).to.deep.equal(['local-greeter']);
    await kernel.start();
    try {
      const mod = (await import(pathToFileURL(path.join(APP, 'plugins/local-greeter.mjs')).href)) as {
        GreetingToken: Token<string>;
      };
      expect(kernel.get(mod.GreetingToken)).to.equal('hi from local-greeter');
    } finally {
      await kernel.stop();
    }
  });

  it('finds a local plugin file without its extension, and a folder with index.js', async () => {
    const noExt = await resolvePlugin('./plugins/local-greeter', APP);
    if (!noExt.ok) expect.fail(noExt.problem);
    expect(noExt.value.from).to.equal(path.join(APP, 'plugins/local-greeter.mjs'));
    const dir = await resolvePlugin('./plugins/greeter-dir', APP);
    if (!dir.ok) expect.fail(dir.problem);
    expect(dir.value.plugin.name).to.equal('dir-greeter');
    expect(isPlugin(dir.value.plugin)).to.equal(true);
  });

  it('explains a local path that is missing, exports no plugin, or fails to import', async () => {
    const tmp = tempDir();
    try {
      tmp.write('broken.mjs', 'throw new Error("boom at import");\n');
      tmp.write(
        'two.mjs',
        `import { definePlugin } from ${JSON.stringify(CORE_URL)};\nconst d = { version: '1.0.0', kernel: '^0.1.0', register() {} };\nexport const a = definePlugin({ ...d, name: 'two-a' });\nexport const b = definePlugin({ ...d, name: 'two-b' });\n`,
      );
      const missing = await resolvePlugin('./nowhere', tmp.dir);
      expect(!missing.ok && missing.problem).to.equal(
        `plugin "./nowhere": no file at ${path.join(tmp.dir, 'nowhere')} (tried .js, .mjs, .ts, .mts, /index.js). Fix: check the path, relative to the config file's folder`,
      );
      const none = await resolvePlugin('./plugins/no-plugin.mjs', APP);
      expect(!none.ok && none.problem).to.include(
        'exports no plugin. Fix: export the definePlugin({...}) value as "plugin"',
      );
      const broken = await resolvePlugin('./broken.mjs', tmp.dir);
      expect(!broken.ok && broken.problem).to.equal(
        `plugin "./broken.mjs": importing ${path.join(tmp.dir, 'broken.mjs')} failed: boom at import`,
      );
      const two = await resolvePlugin('./two.mjs', tmp.dir);
      expect(!two.ok && two.problem).to.include('exports 2 plugins and none is named "plugin"');

      // Through createKernel the same problems are collected together.
      const err = await rejection(
        createKernel({
          appDir: tmp.dir,
          config: { plugins: { './nowhere': {}, './broken.mjs': {} } },
          env: {},
          logger: silentLogger(),
        }),
      );
      expect(problemsOf(err)).to.have.length(2);
    } finally {
      tmp.remove();
    }
  });

  it('takes a key from its loader (bundled apps): only enabled keys are loaded, before any package or path', async () => {
    const called: string[] = [];
    const BundledToken = token<string>('fixture.bundled.Greeting');
    const greeter = plugin('bundled-greeter', {
      provides: [BundledToken],
      register: (ctx) => ctx.provide(BundledToken, 'from the loader'),
    });
    const pluginLoaders = {
      // A key that also names an installed package and a missing path: the loader wins over both.
      http: async () => {
        called.push('http');
        return { plugin: greeter };
      },
      './nowhere.js': async () => {
        called.push('./nowhere.js');
        return { unrelated: 1, plugin: plugin('bundled-local') };
      },
      'not-enabled': async () => {
        called.push('not-enabled');
        throw new Error('a loader of a key the config does not enable ran');
      },
    };
    const kernel = await createKernel({
      appDir: APP,
      config: { plugins: { http: {}, './nowhere.js': {}, 'not-enabled': false } },
      pluginLoaders,
      env: {},
      logger: silentLogger(),
    });
    try {
      expect(called.sort()).to.deep.equal(['./nowhere.js', 'http']);
      expect(kernel.pluginNames).to.have.members(['bundled-greeter', 'bundled-local']);
      await kernel.start();
      expect(kernel.get(BundledToken)).to.equal('from the loader');
      const r = await resolvePlugin('./nowhere.js', APP, undefined, undefined, pluginLoaders);
      if (!r.ok) expect.fail(r.problem);
      expect(r.value.from).to.equal('loader "./nowhere.js"');
      expect(r.value.plugin.name).to.equal('bundled-local');
    } finally {
      await kernel.stop();
    }
  });

  it('explains a loader that fails, returns no module, or a module without a plugin', async () => {
    const loaders = {
      boom: async () => {
        throw new Error('chunk missing');
      },
      empty: async () => undefined,
      none: async () => ({ version: '1' }),
      // A key of Object.prototype is not a loader.
      constructor: undefined as never,
    };
    const boom = await resolvePlugin('boom', APP, undefined, undefined, loaders);
    expect(!boom.ok && boom.problem).to.equal('plugin "boom": importing loader "boom" failed: chunk missing');
    const empty = await resolvePlugin('empty', APP, undefined, undefined, loaders);
    expect(!empty.ok && empty.problem).to.equal(
      `plugin "empty": loader "empty" gave undefined, not a module. Fix: the loader must return the module, e.g. () => import('empty')`,
    );
    const none = await resolvePlugin('none', APP, undefined, undefined, loaders);
    expect(!none.ok && none.problem).to.include('loader "none" exports no plugin');
    const inherited = await resolvePlugin('toString', APP, undefined, undefined, {});
    expect(!inherited.ok && inherited.problem).to.include('cannot find package @gantry/plugin-toString');
  });
});
