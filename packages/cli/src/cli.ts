import path from 'node:path';
import { GantryError } from '@gantry/core';
import { Command, CommanderError, Option } from 'commander';
import { configCheck, configPrint } from './commands/config.js';
import { doctor } from './commands/doctor.js';
import { APP_PROFILES, newApp, type NewAppOptions } from './commands/new-app.js';
import { newPlugin } from './commands/new-plugin.js';
import { listPlugins } from './commands/plugins.js';
import { listRoutes } from './commands/routes.js';
import { CliErrors } from './errors.js';
import { formatError } from './format.js';
import { processIo, warn, type CliIo } from './io.js';
import { CLI_VERSION } from './version.js';

/** Exit codes: 0 success, 1 a problem was found (or a command failed), 2 the command line is wrong. */
export const EXIT = { OK: 0, PROBLEM: 1, USAGE: 2 } as const;

interface GlobalOptions {
  cwd: string;
}

/**
 * Runs the `gantry` command line with `argv` (the arguments after the program name) and returns
 * the exit code. Everything goes through `io`, so tests run commands in-process.
 */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let code: number = EXIT.OK;
  const program = new Command('gantry');
  const appDir = (cmd: Command): string => path.resolve(io.cwd, cmd.optsWithGlobals<GlobalOptions>().cwd);
  const app = (cmd: Command, opts: { profile?: string; json?: boolean }) => ({
    cwd: appDir(cmd),
    profile: opts.profile,
    json: opts.json,
    env: io.env,
  });
  const profileOption = () =>
    new Option('--profile <name>', 'profile to resolve (default: $GANTRY_PROFILE, else embedded)');
  const jsonOption = () => new Option('--json', 'print JSON instead of text');

  program
    .description('Gantry: create an app or a plugin, check a setup, list its plugins and routes.')
    .version(CLI_VERSION, '-v, --version')
    .option('--cwd <dir>', 'the app folder (where gantry.config.* is, unless GANTRY_CONFIG says otherwise)', '.')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showSuggestionAfterError();

  const create = program.command('new').description('create an app or a plugin');
  create
    .command('app')
    .description('create a working app: config, entry point, local plugin, test, Dockerfile; then npm install')
    .argument('<dir>', 'folder to create (its name is the package name)')
    .option(
      '--plugins <list>',
      'comma-separated plugins (default: http, metrics, database, mailer, audit, auth-jwt, rbac, users, rate-limit); dependencies are added',
    )
    .addOption(
      new Option(
        '--profile <name>',
        'embedded: no service needed; compose: also a compose profile (PostgreSQL, Redis, SMTP)',
      )
        .choices(APP_PROFILES)
        .default('embedded'),
    )
    .option('--no-install', 'do not run npm install')
    .option('--registry <url>', 'npm registry for npm install')
    .option('--gantry-version <range>', "version range of the @gantry/* dependencies (default: ^ this CLI's version)")
    .action(async (dir: string, opts: Omit<NewAppOptions, 'dir' | 'cwd' | 'shellCwd'>, cmd: Command) => {
      code = await newApp(io, { dir, cwd: appDir(cmd), shellCwd: io.cwd, ...opts });
    });
  create
    .command('plugin')
    .description('create a plugin package in the house shape, with a passing test and the conformance kit')
    .argument('<name>', 'kebab-case plugin name (greeting-card), or a package name (@acme/gantry-plugin-greeting-card)')
    .option('--dir <dir>', 'folder to create (default: the plugin name)')
    .option('--install', 'run npm install in it')
    .option('--registry <url>', 'npm registry for npm install')
    .option('--gantry-version <range>', "version range of the @gantry/* dependencies (default: ^ this CLI's version)")
    .action(
      async (
        name: string,
        opts: { dir?: string; install?: boolean; registry?: string; gantryVersion?: string },
        cmd: Command,
      ) => {
        code = await newPlugin(io, { name, cwd: appDir(cmd), shellCwd: io.cwd, ...opts });
      },
    );

  program
    .command('doctor')
    .description(
      'check Node.js, the config and every service it names (database, Redis, SMTP, Kafka), each failure with its fix',
    )
    .addOption(profileOption())
    .addOption(jsonOption())
    .action(async (opts: { profile?: string; json?: boolean }, cmd: Command) => {
      code = await doctor(io, app(cmd, opts));
    });

  const config = program.command('config').description('check or print the resolved configuration');
  config
    .command('check')
    .description(
      'validate the config as the kernel would at boot, without starting anything; exit 1 listing every problem',
    )
    .addOption(profileOption())
    .addOption(jsonOption())
    .action(async (opts: { profile?: string; json?: boolean }, cmd: Command) => {
      code = await configCheck(io, app(cmd, opts));
    });
  config
    .command('print')
    .description('print every resolved option and where it came from (default, file, profile, env), secrets masked')
    .addOption(profileOption())
    .addOption(jsonOption())
    .action(async (opts: { profile?: string; json?: boolean }, cmd: Command) => {
      code = await configPrint(io, app(cmd, opts));
    });

  program
    .command('plugins')
    .description('list the enabled plugins in start order: versions, tokens provided and required, dependencies')
    .addOption(profileOption())
    .addOption(jsonOption())
    .action(async (opts: { profile?: string; json?: boolean }, cmd: Command) => {
      code = await listPlugins(io, app(cmd, opts));
    });
  program
    .command('routes')
    .description(
      'list every route: method, path, plugin, who may call it, rate-limit policy (registers plugins, starts nothing)',
    )
    .addOption(profileOption())
    .addOption(jsonOption())
    .action(async (opts: { profile?: string; json?: boolean }, cmd: Command) => {
      code = await listRoutes(io, app(cmd, opts));
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    warn(io, formatError(err));
    return GantryError.is(err) && err.code === CliErrors.USAGE.code ? EXIT.USAGE : EXIT.PROBLEM;
  }
}
