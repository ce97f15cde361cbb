import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KERNEL_VERSION } from '@gantry/core';
import semver from 'semver';
import { loadCatalog, selectPlugins, type CatalogEntry } from '../catalog.js';
import { CliErrors } from '../errors.js';
import { say, type CliIo } from '../io.js';
import { assertPackageName, hostLabel, snakeCase } from '../names.js';
import { npmInstall, registryNpmrc } from '../npm.js';
import { copyTemplate, fillTokens, writeFile, type Tokens } from '../templates.js';
import { CLI_VERSION, TEMPLATES_DIR } from '../version.js';

/** Profiles `gantry new app --profile` can write. */
export const APP_PROFILES = ['embedded', 'compose'] as const;

/** Options of `gantry new app`. */
export interface NewAppOptions {
  /** Folder to create, relative to `cwd`; its name is the package name. */
  readonly dir: string;
  readonly cwd: string;
  /** The shell's folder, for the `cd` hint (default `cwd`). */
  readonly shellCwd?: string;
  /** Comma-separated plugin names (default: the catalog's default set). */
  readonly plugins?: string;
  /** `embedded` (default) writes the service-free config; `compose` adds a `compose` profile. */
  readonly profile?: string;
  /** Run `npm install` in the new folder (default true). */
  readonly install?: boolean;
  /** Registry URL handed to `npm install --registry`. */
  readonly registry?: string;
  /** Version range of the `@gantry/*` dependencies (default: `^` this CLI's version). */
  readonly gantryVersion?: string;
}

/** The local example plugin every app starts with. */
const LOCAL_PLUGIN = './dist/hello/plugin.js';

/** `gantry new app <dir>`: writes a working app (config, entry point, test, Dockerfile), then installs it. */
export async function newApp(io: CliIo, options: NewAppOptions): Promise<number> {
  const target = path.resolve(options.cwd, options.dir);
  const name = path.basename(target);
  assertPackageName(name, 'app name (the folder name)');
  const profile = options.profile ?? 'embedded';
  if (!(APP_PROFILES as readonly string[]).includes(profile)) {
    throw CliErrors.PROFILE_UNKNOWN(
      `profile "${profile}" is not one gantry new app writes (${APP_PROFILES.join(', ')})`,
    );
  }
  const range = options.gantryVersion ?? `^${CLI_VERSION}`;
  if (!semver.validRange(range))
    throw CliErrors.USAGE(`--gantry-version "${range}" is not a semver range`, {
      fix: 'give a version or a range such as 0.1.0 or ^0.1.0',
    });
  const npmrc = registryNpmrc(options.registry);
  if (existsSync(target) && readdirSync(target).length > 0)
    throw CliErrors.TARGET_NOT_EMPTY(`${target} already exists and is not empty`);

  const catalog = loadCatalog();
  const requested =
    options.plugins === undefined
      ? undefined
      : options.plugins
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean);
  const { selected, added } = selectPlugins(catalog, requested);
  const tokens: Tokens = {
    name,
    host: hostLabel(name),
    dbName: snakeCase(name),
    kernelRange: `^${KERNEL_VERSION}`,
    pluginTable: pluginTable(catalog, selected),
    accountsHint: selected.includes('users') ? ACCOUNTS_HINT : '',
  };

  mkdirSync(target, { recursive: true });
  const written = copyTemplate({ from: path.join(TEMPLATES_DIR, 'app'), to: target, tokens });
  if (selected.includes('users'))
    written.push(...copyTemplate({ from: path.join(TEMPLATES_DIR, 'app-users'), to: target, tokens }));
  writeFileSync(
    path.join(target, 'package.json'),
    `${JSON.stringify(appPackage({ target, catalog, selected, range }), null, 2)}\n`,
  );
  writeFile(
    target,
    'gantry.config.json',
    `${JSON.stringify(appConfig({ catalog, selected, profile, tokens }), null, 2)}\n`,
  );
  written.push('gantry.config.json');
  if (npmrc) {
    writeFile(target, '.npmrc', npmrc);
    written.push('.npmrc');
  }

  say(io, `Created ${name} in ${target}`, `  plugins: ${selected.join(', ')}, and the local plugin ${LOCAL_PLUGIN}`);
  for (const [plugin, by] of added) say(io, `  added ${plugin} (needed by ${by})`);
  if (npmrc) say(io, `  .npmrc: ${npmrc.trim()} (npm install and npm ci in this folder use it)`);
  if (profile === 'compose')
    say(io, '  profiles: embedded (default), compose (GANTRY_PROFILE=compose: PostgreSQL, Redis, SMTP)');

  if (options.install !== false) await npmInstall(io, target, options.registry);
  const rel = path.relative(options.shellCwd ?? options.cwd, target) || '.';
  say(
    io,
    '',
    'Next:',
    `  cd ${rel}`,
    ...(options.install === false ? ['  npm install'] : []),
    '  npm start      # builds and serves on http://localhost:3000',
    '  npm test',
  );
  return 0;
}

function appPackage(args: {
  target: string;
  catalog: ReadonlyMap<string, CatalogEntry>;
  selected: readonly string[];
  range: string;
}): Record<string, unknown> {
  const { target, catalog, selected, range } = args;
  const pkg = JSON.parse(readFileSync(path.join(target, 'package.json'), 'utf8')) as Record<
    string,
    Record<string, string>
  >;
  const deps: Record<string, string> = { ...pkg.dependencies, '@gantry/core': range };
  for (const name of selected) deps[catalog.get(name)!.package] = range;
  const devDeps: Record<string, string> = { ...pkg.devDependencies, '@gantry/cli': range, '@gantry/testing': range };
  return { ...pkg, dependencies: sorted(deps), devDependencies: sorted(devDeps) };
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

/** The config file: each plugin with its embedded defaults; with `compose`, a profile switching to the services. */
export function appConfig(args: {
  catalog: ReadonlyMap<string, CatalogEntry>;
  selected: readonly string[];
  profile: string;
  tokens: Tokens;
}): Record<string, unknown> {
  const { catalog, selected, tokens } = args;
  const fill = (value: Readonly<Record<string, unknown>>): Record<string, unknown> =>
    JSON.parse(fillTokens(JSON.stringify(value), tokens, 'catalog.json')) as Record<string, unknown>;
  const compose = args.profile === 'compose';
  const needs = new Set(
    compose ? selected.flatMap((n) => catalog.get(n)!.composeNeeds ?? []).filter((n) => !selected.includes(n)) : [],
  );
  const plugins: Record<string, unknown> = {};
  const overlay: Record<string, unknown> = {};
  for (const [name, entry] of catalog) {
    if (selected.includes(name)) {
      plugins[name] = fill(entry.options);
      if (compose && entry.compose) overlay[name] = fill(entry.compose);
    } else if (needs.has(name)) {
      // Off in the embedded profile (in-memory stores), on in compose where instances share state.
      plugins[name] = false;
      overlay[name] = fill(entry.compose ?? entry.options);
    }
  }
  plugins[LOCAL_PLUGIN] = {};
  return compose ? { plugins, profiles: { compose: { plugins: overlay } } } : { plugins };
}

function pluginTable(catalog: ReadonlyMap<string, CatalogEntry>, selected: readonly string[]): string {
  const rows = selected.map((n) => `| \`${n}\` | \`${catalog.get(n)!.package}\` | ${catalog.get(n)!.summary} |`);
  return [
    '| plugin | package | what |',
    '|---|---|---|',
    ...rows,
    `| \`${LOCAL_PLUGIN}\` | \`src/hello/plugin.ts\` | this app's example route, GET /api/v1/hello |`,
  ].join('\n');
}

const ACCOUNTS_HINT = `
Accounts (the \`users\` plugin): sign up, open the verification mail, sign in.

\`\`\`sh
curl -X POST localhost:3000/api/v1/auth/signup -H 'content-type: application/json' -d '{"email":"ada@example.com","password":"Correct-Horse-Battery-9","name":"Ada"}'
node dist/main.js mail:last   # the newest mail under var/mail/, decoded: its link ends in ?token=<token>
curl -X POST localhost:3000/api/v1/auth/verify-email -H 'content-type: application/json' -d '{"token":"<token>"}'
curl -X POST localhost:3000/api/v1/auth/login -H 'content-type: application/json' -d '{"email":"ada@example.com","password":"Correct-Horse-Battery-9"}'
curl localhost:3000/api/v1/users/me -H 'authorization: Bearer <accessToken>'
\`\`\`
`;
