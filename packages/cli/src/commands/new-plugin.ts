import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { KERNEL_VERSION } from '@gantry/core';
import semver from 'semver';
import { CliErrors } from '../errors.js';
import { say, type CliIo } from '../io.js';
import { assertPackageName, assertPluginName, pascalCase } from '../names.js';
import { npmInstall, registryNpmrc } from '../npm.js';
import { copyTemplate, writeFile } from '../templates.js';
import { CLI_VERSION, TEMPLATES_DIR } from '../version.js';

/** Options of `gantry new plugin`. */
export interface NewPluginOptions {
  /** A kebab-case plugin name (`greeting-card`), or a package name (`@acme/gantry-plugin-greeting-card`). */
  readonly name: string;
  readonly cwd: string;
  /** The shell's folder, for the `cd` hint (default `cwd`). */
  readonly shellCwd?: string;
  /** Folder to create (default: the plugin name, in `cwd`). */
  readonly dir?: string;
  /** Run `npm install` in the new folder (default false: a plugin is often created inside a workspace). */
  readonly install?: boolean;
  readonly registry?: string;
  /** Version range of the `@gantry/*` dependencies (default: `^` this CLI's version). */
  readonly gantryVersion?: string;
}

/** Splits the argument into the plugin name and its package name. */
export function pluginNames(arg: string): { plugin: string; pkg: string } {
  if (arg.includes('/') || arg.startsWith('gantry-plugin-')) {
    assertPackageName(arg, 'package name');
    const base = arg.replace(/^@[^/]+\//, '');
    const plugin = base.replace(/^gantry-plugin-/, '');
    assertPluginName(plugin);
    return { plugin, pkg: arg };
  }
  assertPluginName(arg);
  return { plugin: arg, pkg: `gantry-plugin-${arg}` };
}

/** `gantry new plugin <name>`: a package in the house shape, with a passing test and the conformance kit wired. */
export async function newPlugin(io: CliIo, options: NewPluginOptions): Promise<number> {
  const { plugin, pkg } = pluginNames(options.name);
  const range = options.gantryVersion ?? `^${CLI_VERSION}`;
  if (!semver.validRange(range))
    throw CliErrors.USAGE(`--gantry-version "${range}" is not a semver range`, {
      fix: 'give a version or a range such as 0.1.0 or ^0.1.0',
    });
  const target = path.resolve(options.cwd, options.dir ?? plugin);
  const npmrc = registryNpmrc(options.registry);
  if (existsSync(target) && readdirSync(target).length > 0)
    throw CliErrors.TARGET_NOT_EMPTY(`${target} already exists and is not empty`);
  const Name = pascalCase(plugin);
  mkdirSync(target, { recursive: true });
  copyTemplate({
    from: path.join(TEMPLATES_DIR, 'plugin'),
    to: target,
    tokens: {
      name: plugin,
      package: pkg,
      // Third-party plugins are enabled by their package name; the short name only finds @gantry/plugin-<name>.
      packageOrName: pkg,
      Name,
      camelName: Name[0]!.toLowerCase() + Name.slice(1),
      NAME: plugin.replace(/-/g, '_').toUpperCase(),
      quotedName: `'${plugin}'`,
      kernelRange: `^${KERNEL_VERSION}`,
      gantryRange: range,
    },
  });
  if (npmrc) writeFile(target, '.npmrc', npmrc);
  say(io, `Created plugin "${plugin}" (package ${pkg}) in ${target}`);
  if (npmrc) say(io, `  .npmrc: ${npmrc.trim()} (npm install and npm ci in this folder use it)`);
  if (options.install) await npmInstall(io, target, options.registry);
  const rel = path.relative(options.shellCwd ?? options.cwd, target) || '.';
  say(
    io,
    '',
    'Next:',
    `  cd ${rel}`,
    ...(options.install ? [] : ['  npm install']),
    '  npm test       # builds, runs its tests and the conformance kit',
    '',
    `Enable it in an app: "plugins": { "${pkg}": {} }`,
  );
  return 0;
}
