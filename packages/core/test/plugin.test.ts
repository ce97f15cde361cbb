import { expect } from 'chai';
import { z } from 'zod';
import {
  CoreErrors,
  definePlugin,
  isPlugin,
  pluginMetadataProblems,
  token,
  type PluginDefinition,
} from '../src/index.js';
import { thrown } from './helpers.js';

const valid = { name: 'auth-jwt', version: '1.2.0', kernel: '^0.1.0', register: () => undefined };

describe('definePlugin', () => {
  it('returns a frozen plugin value that isPlugin recognises', () => {
    const p = definePlugin(valid);
    expect(isPlugin(p)).to.equal(true);
    expect(Object.isFrozen(p)).to.equal(true);
    expect(p.name).to.equal('auth-jwt');
    expect(isPlugin({ ...valid })).to.equal(false);
  });

  it('rejects invalid metadata at definition time, listing every problem', () => {
    const err = thrown(() =>
      definePlugin({
        name: 'Auth_JWT',
        version: 'one',
        kernel: 'not a range!',
        dependsOn: ['Bad Name'],
        provides: ['not-a-token'],
        config: { port: 1 },
        register: 'nope',
      } as unknown as PluginDefinition),
    );
    expect(err.code).to.equal('GANTRY_CORE_PLUGIN_INVALID');
    expect(CoreErrors.PLUGIN_INVALID.is(err)).to.equal(true);
    const problems = err.details.problems as string[];
    expect(problems).to.have.length(7);
    expect(err.message).to.include('plugin "Auth_JWT"');
    for (const needle of [
      'name "Auth_JWT" must be kebab-case',
      'version "one" is not a semver version',
      'kernel "not a range!" is not a semver range',
      'register must be a function',
      'dependsOn must be a list of plugin names',
      'provides must be a list of tokens',
      'config must be a zod schema',
    ]) {
      expect(err.message).to.include(needle);
      expect(
        problems.some((p) => p.includes(needle)),
        needle,
      ).to.equal(true);
    }
    expect(err.fix).to.include('definePlugin');
  });

  it('rejects a plugin that depends on itself', () => {
    const err = thrown(() => definePlugin({ ...valid, optionalDependsOn: ['auth-jwt'] }));
    expect(err.details.problems).to.deep.equal(['optionalDependsOn lists the plugin itself']);
  });

  it('rejects a non-object definition', () => {
    const err = thrown(() => definePlugin(undefined as unknown as PluginDefinition));
    expect(err.code).to.equal('GANTRY_CORE_PLUGIN_INVALID');
    expect(err.message).to.include('a plugin has an invalid definition');
  });

  it('accepts full metadata: dependencies, tokens and a zod config', () => {
    const T = token<string>('test.plugin.T');
    const p = definePlugin({
      ...valid,
      dependsOn: ['http'],
      optionalDependsOn: ['metrics'],
      provides: [T],
      requires: [token('test.plugin.R')],
      config: z.object({ secret: z.string().describe('signing secret') }),
    });
    expect(pluginMetadataProblems(p)).to.deep.equal([]);
    expect(p.provides).to.deep.equal([T]);
  });
});
