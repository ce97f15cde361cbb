// semver's functions alone, not its index: the kernel loads 22 of its modules instead of 47.
import valid from 'semver/functions/valid.js';
import validRange from 'semver/ranges/valid.js';
import { z, type ZodType } from 'zod';
import type { ConfigChangeContext, ConfigSource, ConfigSourceSetup } from './config-source.js';
import type { Container } from './container.js';
import { CoreErrors } from './errors.js';
import type { GantryError } from './gantry-error.js';
import type { EventBus } from './events.js';
import type { HealthResult } from './health.js';
import type { Logger } from './logger.js';
import type { Token } from './token.js';
import type { HttpRouter } from './transport.js';

/** A start/stop pair run by the kernel in dependency order. */
export interface LifecycleHook {
  /** Shown in the boot timeline and in timeout errors. */
  readonly name: string;
  readonly start?: () => Promise<void> | void;
  readonly stop?: () => Promise<void> | void;
  /** Per-call limit for start and stop (default: the kernel's hookTimeoutMs). */
  readonly timeoutMs?: number;
  /**
   * `serve` hooks start after every other hook has started (e.g. opening the listening socket) and
   * stop before any other hook stops (stop accepting, drain). Default `run`.
   */
  readonly phase?: 'run' | 'serve';
}

/** What a logger provider ({@link PluginDefinition.logger}) is given. */
export interface LoggerProviderInit {
  /** The active profile (`embedded`, `compose`, ...). */
  readonly profile: string;
  /** The application's folder. */
  readonly appDir: string;
  /** The level the kernel resolved (`kernel.logLevel`, else `LOG_LEVEL`); undefined when the caller gave a logger. */
  readonly level: string | undefined;
  /**
   * The logger the kernel would have used (pino by default, or the caller's): for the provider's own
   * failures (a shipping transport that cannot connect), which must not loop back into itself.
   */
  readonly fallback: Logger;
}

/** What `onConfigChange` decides when a remote source changes a plugin's options. */
export type ConfigChangeDecision = 'applied' | 'restart' | 'reject';

/** The narrow view of the kernel a plugin receives in `register`. */
export interface PluginContext<C> {
  /** The plugin's name. */
  readonly name: string;
  /**
   * The plugin's own validated, frozen options: the ones in effect now. After a remote change the
   * plugin `applied`, or one it asked to `restart` for, this reads the new value (start hooks that read
   * `ctx.config` when they run pick it up on a restart).
   */
  readonly config: Readonly<C>;
  /** The source this plugin's `configSource` factory built, if it has one (the kernel loads and watches it). */
  readonly configSource?: ConfigSource;
  /** The active profile (`embedded`, `compose`, ...). */
  readonly profile: string;
  /** The application's folder (where its config file lives): resolve relative paths from it. */
  readonly appDir: string;
  readonly logger: Logger;
  /** The plugin's own container: its bindings stay private; it sees what other plugins provide. */
  readonly container: Container;
  /** Makes a value visible to other plugins. The token must be listed in `provides`. */
  provide<T>(token: Token<T>, value: T): void;
  readonly lifecycle: { hook(hook: LifecycleHook): void };
  readonly health: {
    /** Registers a readiness check shown in `/readyz` as `<plugin>` or `<plugin>:<name>`. */
    check(
      fn: () => Promise<HealthResult> | HealthResult,
      options?: { name?: string; critical?: boolean; timeoutMs?: number },
    ): void;
  };
  /** Routes and middleware; requires the `http` plugin in `dependsOn`. */
  readonly http: HttpRouter;
  readonly events: EventBus;
  /** Registers a command run by `gantry <command>` / `main.js <command>` after start, before serve. */
  command(
    name: string,
    run: (args: readonly string[]) => Promise<number | void> | number | void,
    description?: string,
  ): void;
}

/** What {@link PluginDefinition.validate} knows of the application being checked. */
export interface PluginSetup {
  /** The active profile. */
  readonly profile: string;
  /** Names of every enabled plugin. */
  readonly plugins: readonly string[];
}

/** The contract every plugin fulfils, built with {@link definePlugin}. */
export interface PluginDefinition<S extends ZodType = ZodType> {
  /** Short unique name (kebab-case): `auth-jwt`. Used in config keys, logs, env (`GANTRY_AUTH_JWT__...`). */
  readonly name: string;
  /** The plugin's own semver version. */
  readonly version: string;
  /** Semver range of the kernel it supports, e.g. `^0.1.0`. */
  readonly kernel: string;
  readonly description?: string;
  /** Plugins that must be enabled and registered before this one. */
  readonly dependsOn?: readonly string[];
  /** Plugins registered before this one when enabled. */
  readonly optionalDependsOn?: readonly string[];
  /** Tokens this plugin binds for others (with `ctx.provide`). */
  readonly provides?: readonly Token<unknown>[];
  /** Tokens some enabled plugin must provide. */
  readonly requires?: readonly Token<unknown>[];
  /** Options schema; every field should have a `.describe()` (the README's options table). */
  readonly config?: S;
  readonly register: (ctx: PluginContext<z.output<S>>) => Promise<void> | void;
  /**
   * Checks of the validated options that depend on the profile or on which other plugins are
   * enabled (a secret required outside the embedded profile, a store that needs the redis plugin).
   * Run by the kernel with the option validation, before anything registers, so every problem of
   * the setup is listed at once. Returns the problems: the plugin's coded errors (their code, message
   * and fix are reported, and the code listed in the boot error's `details.codes`) or plain messages.
   */
  readonly validate?: (config: z.output<S>, setup: PluginSetup) => readonly (GantryError | string)[];
  /**
   * Makes this plugin the application's logger (at most one enabled plugin may): called once by the
   * kernel with the validated options, before any plugin registers, and its result replaces the
   * default logger everywhere: the kernel's own lines, every plugin's `ctx.logger`, `LoggerToken` and
   * the request loggers. Must not throw for an unreachable destination (ship lazily, drop and count).
   * The plugin's `register` finds the same logger under `LoggerToken`.
   */
  readonly logger?: (config: z.output<S>, init: LoggerProviderInit) => Logger;
  /**
   * A change of this plugin's options from a remote source, already validated against `config`:
   * `applied` (the plugin took the new value itself, hot), `restart` (the kernel stops this plugin's
   * hooks and its dependents' in reverse order, then starts them again in order with the new value,
   * while every other plugin keeps serving) or `reject` (logged, the previous value stays). Without
   * it every change is rejected and logged: a plugin that did not say it can take a change must not be
   * restarted or have its options swapped under it (it may have read them once in register()).
   */
  readonly onConfigChange?: (
    prev: z.output<S>,
    next: z.output<S>,
    ctx: ConfigChangeContext,
  ) => Promise<ConfigChangeDecision> | ConfigChangeDecision;
  /**
   * A remote source of options for every plugin (Consul KV), built from this plugin's own validated
   * options (file, profile, env: never the remote layer itself). The kernel loads it before any plugin
   * registers, layers it above the environment, and watches it while running; changes go through each
   * plugin's validation and `onConfigChange`.
   */
  readonly configSource?: (config: z.output<S>, setup: ConfigSourceSetup) => ConfigSource;
}

/** A plugin value as the kernel stores it. */
export type Plugin = PluginDefinition<ZodType> & { readonly [PLUGIN_BRAND]: true };

export const PLUGIN_BRAND: unique symbol = Symbol.for('gantry.plugin');

const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** Every problem in a plugin definition's metadata (empty when valid). */
export function pluginMetadataProblems(def: unknown): string[] {
  const problems: string[] = [];
  if (typeof def !== 'object' || def === null) return ['is not an object made by definePlugin({...})'];
  const d = def as Partial<PluginDefinition>;
  if (typeof d.name !== 'string' || !NAME.test(d.name))
    problems.push(`name ${JSON.stringify(d.name)} must be kebab-case (e.g. "auth-jwt")`);
  if (typeof d.version !== 'string' || !valid(d.version))
    problems.push(`version ${JSON.stringify(d.version)} is not a semver version (e.g. "1.2.0")`);
  if (typeof d.kernel !== 'string' || !validRange(d.kernel))
    problems.push(`kernel ${JSON.stringify(d.kernel)} is not a semver range (e.g. "^0.1.0")`);
  if (typeof d.register !== 'function') problems.push('register must be a function (ctx) => Promise<void>');
  if (d.logger !== undefined && typeof d.logger !== 'function')
    problems.push('logger must be a function (config, init) => Logger');
  if (d.validate !== undefined && typeof d.validate !== 'function')
    problems.push('validate must be a function (config, setup) => string[]');
  if (d.onConfigChange !== undefined && typeof d.onConfigChange !== 'function')
    problems.push("onConfigChange must be a function (prev, next, ctx) => 'applied' | 'restart' | 'reject'");
  if (d.configSource !== undefined && typeof d.configSource !== 'function')
    problems.push('configSource must be a function (config, setup) => ConfigSource');
  for (const key of ['dependsOn', 'optionalDependsOn'] as const) {
    const list = d[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((n) => typeof n !== 'string' || !NAME.test(n)))
      problems.push(`${key} must be a list of plugin names`);
    else if (d.name && list.includes(d.name)) problems.push(`${key} lists the plugin itself`);
  }
  for (const key of ['provides', 'requires'] as const) {
    const list = d[key];
    if (list !== undefined && (!Array.isArray(list) || list.some((t) => typeof t !== 'symbol')))
      problems.push(`${key} must be a list of tokens made by token<T>(name)`);
  }
  if (d.config !== undefined && !(d.config instanceof z.ZodType)) problems.push('config must be a zod schema (zod 4)');
  return problems;
}

/**
 * Declares a plugin. Metadata is checked now, at import time, not when something breaks later.
 *
 * ```ts
 * export const plugin = definePlugin({ name: 'hello', version: '1.0.0', kernel: '^0.1.0',
 *   dependsOn: ['http'], config: z.object({ greeting: z.string().default('hi') }),
 *   register(ctx) { ctx.http.get('/hello', {}, () => ({ text: ctx.config.greeting })); } });
 * ```
 */
// biome-ignore lint/complexity/noBannedTypes: zod's own type for an object schema without fields
export function definePlugin<S extends ZodType = z.ZodObject<{}>>(def: PluginDefinition<S>): Plugin {
  const problems = pluginMetadataProblems(def);
  if (problems.length > 0) {
    const who = typeof def?.name === 'string' ? `plugin "${def.name}"` : 'a plugin';
    throw CoreErrors.PLUGIN_INVALID(`${who} has an invalid definition:\n  - ${problems.join('\n  - ')}`, {
      details: { problems },
    });
  }
  return Object.freeze({ ...def, [PLUGIN_BRAND]: true as const }) as unknown as Plugin;
}

/** True when `value` was made by {@link definePlugin}. */
export function isPlugin(value: unknown): value is Plugin {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[PLUGIN_BRAND] === true;
}
