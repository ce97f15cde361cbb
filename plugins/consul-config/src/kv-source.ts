import { type ConfigLayer, type ConfigSource, deepMerge, type Logger } from '@gantry/core';
import type Consul from 'consul';
import { BlockingWatch, type ConsulAnswer } from './blocking.js';
import { describeConsulError } from './client.js';
import { ConsulConfigErrors } from './errors.js';

/** One KV entry as the consul client returns it (Value already decoded from base64). */
export interface KvEntry {
  readonly Key: string;
  readonly Value: string | null;
}

/**
 * Turns the KV entries under `<prefix>/<app>/<profile>/` into a config layer. The first segment after
 * the folder is the plugin name; the rest is the option path (`rate-limit/default/limit` →
 * `{ "rate-limit": { default: { limit: … } } }`). A value is JSON when it parses (`50`, `true`,
 * `{"a":1}`, `"text"`), else the raw string. A key naming the plugin alone holds a JSON object of its
 * options; deeper keys go over it. Folder keys (ending in `/`) and empty values are skipped.
 */
export function layerFromEntries(
  folder: string,
  entries: readonly KvEntry[],
): {
  layer: Record<string, Record<string, unknown>>;
  problems: string[];
} {
  const layer: Record<string, Record<string, unknown>> = {};
  const problems: string[] = [];
  // Shallow keys first, so deeper keys override what a whole-object key set.
  const sorted = [...entries].sort(
    (a, b) => a.Key.split('/').length - b.Key.split('/').length || (a.Key < b.Key ? -1 : 1),
  );
  for (const entry of sorted) {
    if (!entry.Key.startsWith(folder) || entry.Key.endsWith('/')) continue;
    if (entry.Value === null || entry.Value === '') continue;
    const path = entry.Key.slice(folder.length).split('/');
    if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
      problems.push(`key ${entry.Key}: empty or reserved path segment, skipped`);
      continue;
    }
    const [plugin, ...keys] = path as [string, ...string[]];
    const value = parseValue(entry.Value);
    if (keys.length === 0) {
      if (!isObject(value)) {
        problems.push(`key ${entry.Key}: a key naming a plugin must hold a JSON object of its options, skipped`);
        continue;
      }
      layer[plugin] = deepMerge(layer[plugin] ?? {}, value);
      continue;
    }
    let node = (layer[plugin] ??= {});
    for (const k of keys.slice(0, -1)) {
      const next = node[k];
      node = isObject(next) ? next : (node[k] = {});
    }
    node[keys.at(-1)!] = value;
  }
  return { layer, problems };
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Options of {@link ConsulKvSource}. */
export interface ConsulKvSourceOptions {
  readonly client: Consul;
  /** `<prefix>/<app>/<profile>/` */
  readonly folder: string;
  readonly required: boolean;
  readonly waitMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly logger: Logger;
  /** Enabled plugins: keys for other plugins are reported once. */
  readonly plugins: readonly string[];
  readonly url: string;
}

/**
 * The kernel's {@link ConfigSource} on Consul KV: one recursive read at boot, then a blocking query on
 * the folder. Unreachable at boot: an empty layer and `state` degraded (or GANTRY_CONSUL_CONFIG_UNREACHABLE
 * when required); the watch keeps trying with backoff and delivers the layer once Consul answers.
 */
export class ConsulKvSource implements ConfigSource {
  readonly name: string;
  /** `up` once Consul answered and while it does; `degraded` while calls fail. */
  state: 'starting' | 'up' | 'degraded' = 'starting';
  lastError: string | undefined;
  private index = 0n;
  private last = '';
  private readonly reported = new Set<string>();
  private watcher: BlockingWatch<KvEntry[]> | undefined;

  constructor(private readonly options: ConsulKvSourceOptions) {
    this.name = `consul kv ${options.folder}`;
  }

  async load(): Promise<ConfigLayer> {
    const ctx = Object.assign(new (await import('node:events')).EventEmitter(), { includeResponse: true });
    try {
      const [res, data] = (await this.options.client.kv.get({
        key: this.options.folder,
        recurse: true,
        ctx,
        timeout: 5_000,
      } as never)) as unknown as ConsulAnswer<KvEntry[]>;
      const raw = res.headers['x-consul-index'];
      this.index = BigInt(String(raw ?? '0'));
      this.state = 'up';
      this.lastError = undefined;
      const layer = this.toLayer(data);
      this.last = JSON.stringify(layer);
      return layer;
    } catch (cause) {
      const why = describeConsulError(cause);
      this.lastError = why;
      this.state = 'degraded';
      if (this.options.required) {
        throw ConsulConfigErrors.UNREACHABLE(
          `Consul at ${this.options.url} is unreachable (${why}) and plugins["consul-config"].required is true`,
          { cause, details: { url: this.options.url, reason: why } },
        );
      }
      this.options.logger.warn(
        { url: this.options.url, reason: why, code: ConsulConfigErrors.UNREACHABLE.code },
        `Consul at ${this.options.url} is unreachable (${why}): starting on local config, readiness degraded; retrying in the background`,
      );
      return {};
    }
  }

  watch(onChange: (layer: ConfigLayer) => void): () => Promise<void> {
    const { client, folder, waitMs, backoff, logger, url } = this.options;
    const watcher = new BlockingWatch<KvEntry[]>({
      waitMs,
      backoff,
      query: (call) =>
        client.kv.get({ key: folder, recurse: true, ...call } as never) as unknown as Promise<ConsulAnswer<KvEntry[]>>,
      onData: (data) => {
        if (this.state !== 'up') logger.info({ url }, `Consul at ${url} answers again: config from ${folder} is live`);
        this.state = 'up';
        this.lastError = undefined;
        const layer = this.toLayer(data);
        const text = JSON.stringify(layer);
        if (text === this.last) return;
        this.last = text;
        onChange(layer);
      },
      onError: (err, attempt, delayMs) => {
        const why = describeConsulError(err);
        if (this.state !== 'degraded' || attempt === 1)
          logger.warn(
            { url, reason: why, attempt, retryInMs: delayMs, code: ConsulConfigErrors.UNREACHABLE.code },
            `Consul watch of ${folder} failed (${why}); retrying in ${delayMs} ms`,
          );
        this.state = 'degraded';
        this.lastError = why;
      },
    });
    this.watcher = watcher;
    watcher.start(this.index);
    return () => watcher.stop();
  }

  /** The index of the last answer of the watch (or of the load). */
  get lastIndex(): bigint {
    return this.watcher?.index ?? this.index;
  }

  private toLayer(data: KvEntry[] | undefined): ConfigLayer {
    const { layer, problems } = layerFromEntries(this.options.folder, data ?? []);
    for (const plugin of Object.keys(layer)) {
      if (!this.options.plugins.includes(plugin))
        problems.push(`folder ${this.options.folder}${plugin}/: no enabled plugin "${plugin}", ignored`);
    }
    for (const p of problems) {
      if (this.reported.has(p)) continue;
      this.reported.add(p);
      this.options.logger.warn({ folder: this.options.folder }, `Consul KV: ${p}`);
    }
    return layer;
  }
}

/** A source that holds nothing (config.enabled false). */
export const EMPTY_SOURCE: ConfigSource = {
  name: 'consul kv (disabled)',
  load: async () => ({}),
  watch: () => () => undefined,
};
