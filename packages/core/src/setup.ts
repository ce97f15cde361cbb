import path from 'node:path';
// semver's functions alone, not its index: the kernel loads 22 of its modules instead of 47.
import satisfies from 'semver/functions/satisfies.js';
import type { ZodType } from 'zod';
import {
  applyProfile,
  deepFreeze,
  deepMerge,
  describeIssues,
  envOverrides,
  envSegment,
  findConfigFile,
  kernelOptionsSchema,
  LOG_LEVELS,
  mergeEnvOverrides,
  optionProvenance,
  readConfigFile,
  type AppConfig,
  type KernelOptions,
  type KernelOptionsInput,
  type OptionLayer,
  type OptionProvenance,
  type PluginOptions,
} from './config.js';
import { CoreErrors } from './errors.js';
import { EventBusToken } from './events.js';
import { topoSort } from './graph.js';
import { HealthRegistryToken, KernelInfoToken, LoggerToken } from './kernel-info.js';
import type { Logger } from './logger.js';
import { isPlugin, pluginMetadataProblems, type Plugin } from './plugin.js';
import { type PluginLoaders, resolvePlugin } from './resolve.js';
import { closest, didYouMean, officialOwnerOf } from './suggest.js';
import { tokenName } from './token.js';
import { KERNEL_VERSION } from './version.js';

/** Where to read an application's setup from. Everything is optional: by default `gantry.config.*` in `appDir`. */
export interface ResolveConfigOptions {
  /** The application's folder (default `process.cwd()`). */
  readonly appDir?: string;
  /** Inline config instead of a file (tests, embedding). */
  readonly config?: AppConfig;
  /** Config file path (default: `GANTRY_CONFIG`, else `gantry.config.*` in appDir). */
  readonly configFile?: string;
  /** Profile (default `GANTRY_PROFILE`, else `embedded`). */
  readonly profile?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Plugin values usable by name in the config without resolving a package (tests, bundled apps). */
  readonly plugins?: readonly Plugin[];
  /**
   * Module loaders by config key, tried before the key is resolved from `node_modules` or a path:
   * what a bundled application passes so that its bundler sees every plugin module (see
   * {@link PluginLoaders}). Only the loaders of enabled keys are called.
   */
  readonly pluginLoaders?: PluginLoaders;
  /** A logger supplied by the caller: the `LOG_LEVEL` variable is then not read (nor checked). */
  readonly logger?: Logger;
  /** Kernel settings; the config file's `kernel` key and `GANTRY_KERNEL__*` override them. */
  readonly kernel?: KernelOptionsInput;
}

/** One enabled plugin with its options resolved through every layer. */
export interface ResolvedPluginConfig {
  readonly plugin: Plugin;
  /** The config key that enabled it (short name, npm name or path). */
  readonly specifier: string;
  /** The module it was loaded from (`preloaded` for plugin values passed in). */
  readonly from: string;
  /** Validated, frozen options; `undefined` when they are invalid (see `problems`). */
  readonly options: Readonly<Record<string, unknown>> | undefined;
  /** The options before validation: file, profile and environment merged. */
  readonly input: Readonly<Record<string, unknown>>;
  /** Where each option came from (of the validated options, else of the input). */
  readonly provenance: OptionProvenance;
}

/** An application's setup, checked: what {@link createKernel} builds a kernel from, or every reason it cannot. */
export interface ResolvedConfig {
  readonly appDir: string;
  /** Folder of the config file (relative plugin paths and plugin files resolve from it); `appDir` for inline config. */
  readonly configDir: string;
  /** The config file read, when not inline. */
  readonly configFile: string | undefined;
  readonly profile: string;
  readonly kernel: { readonly options: KernelOptions; readonly provenance: OptionProvenance };
  /** Level of the default logger: the `kernel.logLevel` option, else `LOG_LEVEL`, else info. Undefined with a caller's logger. */
  readonly logLevel: (typeof LOG_LEVELS)[number] | undefined;
  /** Plugins that resolved, in start (dependency) order. */
  readonly plugins: readonly ResolvedPluginConfig[];
  /** Config keys turned off with `false` (by the file or the profile). */
  readonly disabled: readonly string[];
  /** Every problem found, each naming the plugin and the fix; empty when the application can start. */
  readonly problems: readonly string[];
  /** Codes of the coded problems (plugins' validate() errors), so callers and tests can tell them apart. */
  readonly codes: readonly string[];
}

/** Tokens the kernel binds itself: a plugin may require them without any plugin providing them. */
export const BUILTIN_TOKENS: ReadonlySet<symbol> = new Set<symbol>([
  KernelInfoToken,
  HealthRegistryToken,
  LoggerToken,
  EventBusToken,
]);

/**
 * Reads the config (file or inline), applies the profile, resolves every enabled plugin and checks
 * the whole setup: unknown plugin, kernel range, duplicate, missing dependency, cycle, unprovided or
 * doubly provided token, options (file < profile < environment, validated per plugin). Problems are
 * collected, not thrown; only an unreadable config file throws. Nothing is
 * registered or started. {@link createKernel} refuses to build a kernel when `problems` is not empty.
 */
export async function resolveConfig(options: ResolveConfigOptions = {}): Promise<ResolvedConfig> {
  const appDir = path.resolve(options.appDir ?? process.cwd());
  const env = options.env ?? process.env;
  const profile = options.profile ?? env.GANTRY_PROFILE ?? 'embedded';
  let config = options.config;
  let configDir = appDir;
  let configFile: string | undefined;
  if (!config) {
    configFile = options.configFile ? path.resolve(appDir, options.configFile) : findConfigFile(appDir, env);
    if (!configFile) {
      throw CoreErrors.CONFIG_FILE_INVALID(
        `no config file in ${appDir} (looked for gantry.config.ts, .yaml, .json) and GANTRY_CONFIG is not set`,
        {
          fix: 'create gantry.config.json with { "plugins": { "http": {} } } or set GANTRY_CONFIG',
        },
      );
    }
    config = await readConfigFile(configFile, env);
    configDir = path.dirname(configFile);
  }

  const problems: string[] = [];
  const codes: string[] = [];
  // A profile the file does not define would silently run the base config: refused, unless it is the
  // default (embedded) or the caller chose it in code (tests building their own config).
  const defined = Object.keys(config.profiles ?? {});
  const chosenInCode = options.profile !== undefined && !config.profiles;
  const profileUnknown = profile !== 'embedded' && !defined.includes(profile) && !chosenInCode;
  if (profileUnknown) {
    problems.push(
      `profile "${profile}"${options.profile === undefined ? ' (GANTRY_PROFILE)' : ''} is not defined in the config file${didYouMean(profile, defined)}; defined: ${defined.join(', ') || 'none'}. Fix: set GANTRY_PROFILE to a defined profile, or add "${profile}" under "profiles"`,
    );
  }
  const kernelLayers: OptionLayer[] = [
    { source: 'code', values: (options.kernel ?? {}) as Record<string, unknown> },
    { source: 'file', values: (config.kernel ?? {}) as Record<string, unknown> },
  ];
  const kernelInput = deepMerge(kernelLayers[0]!.values, kernelLayers[1]!.values);
  const kernelEnv = envOverrides('kernel', kernelOptionsSchema, env);
  problems.push(...kernelEnv.problems.map((p) => `kernel: ${p}`));
  const kernelMerged = mergeEnvOverrides(kernelOptionsSchema, kernelInput, kernelEnv.values);
  const kernelParsed = kernelOptionsSchema.safeParse(kernelMerged);
  if (!kernelParsed.success)
    problems.push(
      ...describeIssues(kernelParsed.error.issues, kernelInput).map(
        (p) => `kernel: ${p}. Fix: correct "kernel" in the config file`,
      ),
    );
  const kernelOptions = kernelParsed.success ? kernelParsed.data : kernelOptionsSchema.parse({});
  const kernel = {
    options: kernelOptions,
    provenance: optionProvenance({
      owner: 'kernel',
      value: kernelParsed.success ? kernelOptions : kernelMerged,
      layers: [...kernelLayers, { source: 'env', values: kernelEnv.values }],
      env,
    }),
  };

  const merged = applyProfile(config, profile);
  const disabled = Object.entries(merged)
    .filter(([, o]) => o === false)
    .map(([spec]) => spec);
  const enabled = Object.entries(merged).filter(([, o]) => o !== false) as [string, Record<string, unknown>][];
  const preloaded = new Map<string, Plugin>();
  for (const p of options.plugins ?? []) if (isPlugin(p)) preloaded.set(p.name, p);

  const resolved = await Promise.all(
    enabled.map(([spec]) => resolvePlugin(spec, configDir, preloaded, appDir, options.pluginLoaders)),
  );
  const plugins = new Map<
    string,
    { plugin: Plugin; specifier: string; from: string; options: Record<string, unknown> }
  >();
  /** Keys that resolved to no plugin: a missing dependency one of them misspells is that key's problem, listed once. */
  const unresolved: string[] = [];
  resolved.forEach((r, i) => {
    const [spec, opts] = enabled[i]!;
    if (!r.ok) {
      unresolved.push(spec);
      return void problems.push(r.problem);
    }
    const meta = pluginMetadataProblems(r.value.plugin);
    if (meta.length)
      return void problems.push(...meta.map((m) => `plugin "${spec}": ${m}. Fix: correct its definePlugin({...})`));
    const p = r.value.plugin;
    const first = plugins.get(p.name);
    if (first)
      return void problems.push(
        first.plugin === p
          ? `plugin "${p.name}" is enabled twice (as "${first.specifier}" and "${spec}"). Fix: keep one key`
          : `two different plugins are named "${p.name}": "${first.specifier}" (${first.from}) and "${spec}" (${r.value.from}). Fix: give one of them another name in its definePlugin({ name }), or disable one`,
      );
    if (!satisfies(KERNEL_VERSION, p.kernel, { includePrerelease: true })) {
      problems.push(
        `plugin "${p.name}" ${p.version} supports kernel ${p.kernel}, but this kernel is ${KERNEL_VERSION}. Fix: install a version of the plugin made for kernel ${KERNEL_VERSION}, or upgrade @gantry/core`,
      );
    }
    plugins.set(p.name, { plugin: p, specifier: spec, from: r.value.from, options: opts });
  });

  /** How problems name a plugin: by its name, and by the key as written when that differs (an npm name, a path). */
  const label = (name: string): string => {
    const spec = plugins.get(name)?.specifier;
    return spec === undefined || spec === name ? `plugin "${name}"` : `plugin "${name}" (config key "${spec}")`;
  };

  // Dependencies and tokens.
  const providers = new Map<symbol, string[]>();
  for (const { plugin } of plugins.values())
    for (const t of plugin.provides ?? []) providers.set(t, [...(providers.get(t) ?? []), plugin.name]);
  for (const [t, names] of providers)
    if (names.length > 1 && t !== EventBusToken)
      problems.push(
        `token "${tokenName(t)}" is provided by ${names.map((n) => `"${n}"`).join(' and ')}. Fix: enable only one of them`,
      );
  const misspelled = (name: string): boolean => unresolved.some((spec) => closest(spec, [name]) === name);
  for (const { plugin } of plugins.values()) {
    for (const dep of plugin.dependsOn ?? []) {
      if (!plugins.has(dep) && !misspelled(dep))
        problems.push(
          `${label(plugin.name)} depends on "${dep}", which is not enabled. Fix: add "${dep}": {} under "plugins" in the config file`,
        );
    }
    for (const t of plugin.requires ?? []) {
      if (!providers.has(t) && !BUILTIN_TOKENS.has(t)) {
        const owner = officialOwnerOf(tokenName(t));
        if (owner !== undefined && misspelled(owner)) continue;
        const fix = owner
          ? `enable plugin "${owner}" (it provides this token): add "${owner}": {} under "plugins"`
          : 'enable the plugin that provides it (see the README of the package exporting this token)';
        problems.push(
          `${label(plugin.name)} requires token "${tokenName(t)}", which no enabled plugin provides. Fix: ${fix}`,
        );
      }
    }
  }
  const nodes = [...plugins.values()].map(({ plugin }) => ({
    name: plugin.name,
    after: [
      ...(plugin.dependsOn ?? []),
      ...(plugin.optionalDependsOn ?? []).filter((d) => plugins.has(d)),
      ...(plugin.requires ?? []).flatMap((t) => providers.get(t) ?? []),
    ].filter((d) => d !== plugin.name),
  }));
  const { order, cycles } = topoSort(nodes);
  for (const cycle of cycles)
    problems.push(
      `dependency cycle: ${cycle.join(' → ')}. Fix: remove one of these dependencies (or make it optionalDependsOn)`,
    );

  // Options: file < profile < environment, validated per plugin.
  const validated = new Map<string, ResolvedPluginConfig>();
  for (const { plugin, specifier, from, options: input0 } of plugins.values()) {
    const layers = writtenLayers(config, profile, specifier);
    const fromEnv = envOverrides(plugin.name, plugin.config, env);
    problems.push(...fromEnv.problems.map((p) => `${label(plugin.name)}: ${p}`));
    const input = mergeEnvOverrides(plugin.config, input0, fromEnv.values);
    let value: Record<string, unknown> | undefined;
    if (!plugin.config) {
      if (Object.keys(input).length > 0)
        problems.push(
          `${label(plugin.name)} takes no options, got ${Object.keys(input).join(', ')}. Fix: use {} for it`,
        );
      else value = deepFreeze({});
    } else {
      const parsed = (plugin.config as ZodType).safeParse(input);
      if (parsed.success) value = deepFreeze(parsed.data as Record<string, unknown>);
      else {
        problems.push(
          ...describeIssues(parsed.error.issues, input, plugin.config).map(
            (m) =>
              `${label(plugin.name)}: ${m}. Fix: correct plugins["${specifier}"] in the config file or its GANTRY_${envSegment(plugin.name)}__* variables`,
          ),
        );
      }
    }
    const provenance = optionProvenance({
      owner: plugin.name,
      value: value ?? input,
      layers: [...layers, { source: 'env', values: fromEnv.values }],
      env,
    });
    validated.set(plugin.name, { plugin, specifier, from, options: value, input, provenance });
  }

  // Checks that depend on the profile or on the other plugins (secrets required outside embedded,
  // stores that need Redis...), in the same pass: every problem is listed at once.
  // An unknown profile is the one problem then: checks made for a profile that does not exist would
  // only list consequences of the typo.
  const enabledNames = Object.freeze([...plugins.keys()]);
  for (const { plugin, options: value } of validated.values()) {
    if (!plugin.validate || value === undefined || profileUnknown) continue;
    try {
      for (const found of plugin.validate(value as never, { profile, plugins: enabledNames })) {
        if (typeof found === 'string') problems.push(`${label(plugin.name)}: ${found}`);
        else {
          codes.push(found.code);
          problems.push(
            `${label(plugin.name)}: [${found.code}] ${found.message}${found.fix ? `. Fix: ${found.fix}` : ''}`,
          );
        }
      }
    } catch (err) {
      problems.push(
        `${label(plugin.name)}: its validate() threw ${(err as Error).message}. Fix: report it to the plugin's authors`,
      );
    }
  }

  const logLevel = options.logger ? undefined : (kernelOptions.logLevel ?? logLevelFromEnv(env.LOG_LEVEL, problems));
  return {
    appDir,
    configDir,
    configFile,
    profile,
    kernel,
    logLevel,
    plugins: order.map((name) => validated.get(name)!),
    disabled,
    problems,
    codes,
  };
}

/** The written layers of one plugin's options: the file's, then the profile's (which replaces a disabled or absent base). */
function writtenLayers(config: AppConfig, profile: string, specifier: string): OptionLayer[] {
  const base: PluginOptions | undefined = config.plugins[specifier];
  const overlay: PluginOptions | undefined = config.profiles?.[profile]?.plugins?.[specifier];
  const layers: OptionLayer[] = [];
  if (base) layers.push({ source: 'file', values: base });
  if (overlay) layers.push({ source: 'profile', values: overlay });
  return layers;
}

/** The LOG_LEVEL variable as a level (info when unset); an unknown value is a boot problem, not a silent default. */
function logLevelFromEnv(value: string | undefined, problems: string[]): (typeof LOG_LEVELS)[number] {
  if (value === undefined || value === '') return 'info';
  const level = LOG_LEVELS.find((l) => l === value.toLowerCase());
  if (level) return level;
  problems.push(
    `environment variable LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`,
  );
  return 'info';
}
