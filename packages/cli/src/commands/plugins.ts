import { tokenName } from '@gantry/core';
import type { AppOptions } from '../app-core.js';
import { say, type CliIo } from '../io.js';
import { printProblems, resolveApp } from './config.js';

/** One plugin as `gantry plugins` reports it. */
export interface PluginReport {
  readonly name: string;
  readonly version: string;
  readonly kernel: string;
  readonly specifier: string;
  readonly from: string;
  readonly dependsOn: readonly string[];
  readonly optionalDependsOn: readonly string[];
  readonly provides: readonly string[];
  readonly requires: readonly string[];
}

/** `gantry plugins`: the enabled plugins in start order, their versions and the tokens they provide and require. */
export async function listPlugins(io: CliIo, options: AppOptions & { json?: boolean }): Promise<number> {
  const setup = await resolveApp(options);
  const reports: PluginReport[] = setup.plugins.map(({ plugin, specifier, from }) => ({
    name: plugin.name,
    version: plugin.version,
    kernel: plugin.kernel,
    specifier,
    from,
    dependsOn: plugin.dependsOn ?? [],
    optionalDependsOn: plugin.optionalDependsOn ?? [],
    provides: (plugin.provides ?? []).map(tokenName),
    requires: (plugin.requires ?? []).map(tokenName),
  }));
  if (options.json) {
    say(
      io,
      JSON.stringify(
        { profile: setup.profile, plugins: reports, disabled: setup.disabled, problems: setup.problems },
        null,
        2,
      ),
    );
    return setup.problems.length === 0 ? 0 : 1;
  }
  const list = (items: readonly string[]): string => (items.length ? items.join(', ') : '-');
  for (const r of reports) {
    say(
      io,
      `${r.name} ${r.version}${r.specifier === r.name ? '' : `  (${r.specifier})`}`,
      `  provides:   ${list(r.provides)}`,
      `  requires:   ${list(r.requires)}`,
      `  depends on: ${list([...r.dependsOn, ...r.optionalDependsOn.map((d) => `${d}?`)])}`,
    );
  }
  say(
    io,
    '',
    `${reports.length} plugins enabled (profile ${setup.profile}), in start order${setup.disabled.length ? `; disabled: ${setup.disabled.join(', ')}` : ''}`,
  );
  if (setup.problems.length) {
    printProblems(io, setup);
    return 1;
  }
  return 0;
}
