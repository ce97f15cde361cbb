import path from 'node:path';
import type { OptionOrigin, ResolvedConfig } from '@gantry/core';
import { loadCore, type AppOptions } from '../app-core.js';
import { columns, leaves, showValue } from '../format.js';
import { say, type CliIo } from '../io.js';
import { maskValue } from '../mask.js';

/** Reads and checks the app's setup like the kernel's boot check, starting nothing. */
export async function resolveApp(options: AppOptions): Promise<ResolvedConfig> {
  const core = await loadCore(options.cwd);
  return core.resolveConfig({ appDir: options.cwd, profile: options.profile, env: options.env });
}

/** Prints every problem of a setup, numbered, for a terminal. */
export function printProblems(io: CliIo, setup: ResolvedConfig): void {
  say(
    io,
    `${setup.problems.length} problem${setup.problems.length > 1 ? 's' : ''} in ${describeSource(setup)}:`,
    ...setup.problems.map((p, i) => `  ${i + 1}. ${p}`),
  );
}

/** `gantry config check`: exit 0 when the app can start, 1 listing every problem. */
export async function configCheck(io: CliIo, options: AppOptions & { json?: boolean }): Promise<number> {
  const setup = await resolveApp(options);
  if (options.json) {
    say(
      io,
      JSON.stringify(
        {
          ok: setup.problems.length === 0,
          configFile: setup.configFile,
          profile: setup.profile,
          problems: setup.problems,
        },
        null,
        2,
      ),
    );
    return setup.problems.length === 0 ? 0 : 1;
  }
  if (setup.problems.length > 0) {
    printProblems(io, setup);
    return 1;
  }
  say(
    io,
    `${describeSource(setup)}: OK, ${setup.plugins.length} plugins (${setup.plugins.map((p) => p.plugin.name).join(', ')})`,
  );
  return 0;
}

/** One option as `config print --json` shows it. */
export interface PrintedOption {
  readonly value: unknown;
  readonly source: OptionOrigin['source'];
  readonly variable?: string;
}

/**
 * `gantry config print`: the resolved options of the kernel and of every plugin, each with where it
 * came from (default, file, profile, env and the variable), secrets masked. Exit 1 when the setup
 * has problems (listed after the options that did resolve).
 */
export async function configPrint(io: CliIo, options: AppOptions & { json?: boolean }): Promise<number> {
  const setup = await resolveApp(options);
  const table = (value: unknown, provenance: Readonly<Record<string, OptionOrigin>>): Record<string, PrintedOption> =>
    Object.fromEntries(
      leaves(value).map(([at, v]) => {
        const origin = provenance[at.join('.')] ?? { source: 'default' as const };
        return [
          at.join('.'),
          { value: maskValue(at, v), source: origin.source, ...(origin.variable ? { variable: origin.variable } : {}) },
        ];
      }),
    );
  const kernel = table(setup.kernel.options, setup.kernel.provenance);
  const plugins = setup.plugins.map((p) => ({
    name: p.plugin.name,
    specifier: p.specifier,
    valid: p.options !== undefined,
    options: table(p.options ?? p.input, p.provenance),
  }));
  if (options.json) {
    say(
      io,
      JSON.stringify(
        {
          configFile: setup.configFile,
          profile: setup.profile,
          kernel,
          plugins,
          disabled: setup.disabled,
          problems: setup.problems,
        },
        null,
        2,
      ),
    );
    return setup.problems.length === 0 ? 0 : 1;
  }
  say(io, `${describeSource(setup)}`, '');
  const section = (title: string, opts: Record<string, PrintedOption>): void => {
    const rows = Object.entries(opts).map(([k, o]) => [
      `  ${k}`,
      showValue(o.value),
      o.variable ? `env ${o.variable}` : o.source,
    ]);
    say(io, title, ...(rows.length ? columns(rows) : ['  (no options)']), '');
  };
  section('kernel', kernel);
  for (const p of plugins)
    section(
      `${p.name}${p.specifier === p.name ? '' : ` (${p.specifier})`}${p.valid ? '' : '  [invalid: see the problems below]'}`,
      p.options,
    );
  if (setup.disabled.length) say(io, `disabled: ${setup.disabled.join(', ')}`, '');
  if (setup.problems.length) {
    printProblems(io, setup);
    return 1;
  }
  return 0;
}

function describeSource(setup: ResolvedConfig): string {
  const file = setup.configFile ? path.relative(setup.appDir, setup.configFile) || setup.configFile : 'inline config';
  return `${file.startsWith('..') ? setup.configFile : file} (profile ${setup.profile})`;
}
