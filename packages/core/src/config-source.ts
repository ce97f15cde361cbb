import type { Container } from './container.js';
import type { Logger } from './logger.js';

/**
 * Options from a remote source, by plugin name: `{ "rate-limit": { "default": { "limit": 50 } } }`.
 * A layer is complete (the source's whole view), not a diff: a key that disappears from the source
 * falls back to the layers below (env, profile, file, defaults).
 */
export type ConfigLayer = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** Stops a watch. */
export type Unsubscribe = () => void | Promise<void>;

/**
 * A remote source of plugin options layered above the environment (kratos' `config.Source`):
 * `load()` once before plugins register, then `watch()` for changes while the kernel runs.
 */
export interface ConfigSource {
  /** Shown in logs (`consul kv gantry/app/embedded`). */
  readonly name: string;
  /**
   * The current layer. An unreachable source either returns what it can (an empty layer, with its
   * plugin reporting degraded readiness) or throws when the application requires it: the boot then fails.
   */
  load(): Promise<ConfigLayer>;
  /** Calls `onChange` with the whole new layer each time the source changes, until unsubscribed. */
  watch(onChange: (layer: ConfigLayer) => void): Unsubscribe;
}

/** What a plugin's `configSource` factory knows of the application. */
export interface ConfigSourceSetup {
  readonly profile: string;
  readonly appDir: string;
  /** Enabled plugins in start order. */
  readonly plugins: readonly string[];
  /** The providing plugin's logger. */
  readonly logger: Logger;
}

/** What a plugin's `onConfigChange` receives besides the old and new options. */
export interface ConfigChangeContext {
  /** The plugin's name. */
  readonly name: string;
  /** The plugin's own container: what it bound in register() and what other plugins provide. */
  readonly container: Container;
  readonly logger: Logger;
  /** Dotted paths of the options that differ between the old and the new value. */
  readonly changed: readonly string[];
}

/** One outcome of a config change, as the kernel reports it (logs and {@link Kernel.configChanges}). */
export interface ConfigChangeRecord {
  readonly plugin: string;
  readonly decision: 'applied' | 'restart' | 'reject' | 'invalid' | 'failed';
  /** Dotted option paths that changed (or, for `invalid`, the paths the schema refused). */
  readonly keys: readonly string[];
  /** Why a change was refused (schema error, plugin's decision, failed restart). */
  readonly reason?: string;
  /** Plugins whose hooks restarted, in start order (for `restart`). */
  readonly restarted?: readonly string[];
  readonly at: number;
}

/** Dotted paths of the leaves that differ between two option values (arrays compare as leaves). */
export function changedPaths(prev: unknown, next: unknown, at: string[] = []): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObj(prev) && isObj(next)) {
    const keys = new Set([...Object.keys(prev), ...Object.keys(next)]);
    return [...keys].flatMap((k) => changedPaths(prev[k], next[k], [...at, k]));
  }
  return JSON.stringify(prev) === JSON.stringify(next) ? [] : [at.join('.') || '(options)'];
}
