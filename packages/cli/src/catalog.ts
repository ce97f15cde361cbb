import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CliErrors } from './errors.js';
import { TEMPLATES_DIR } from './version.js';

/** A plugin `gantry new app` can enable, with the defaults it writes. */
export interface CatalogEntry {
  readonly package: string;
  readonly summary: string;
  /** Mirrors the plugin's own `dependsOn`: enabling it enables these. */
  readonly dependsOn: readonly string[];
  /** Part of the set enabled when `--plugins` is not given. */
  readonly default: boolean;
  /** Options written to the base config (the embedded profile's). */
  readonly options: Readonly<Record<string, unknown>>;
  /** Overlay written under `profiles.compose` with `--profile compose`. */
  readonly compose?: Readonly<Record<string, unknown>>;
  /** Plugins the compose profile turns on for this one (Redis-backed stores). */
  readonly composeNeeds?: readonly string[];
  /** Why it cannot be enabled with defaults alone. */
  readonly needsSetup?: string;
}

/** The catalog, in the order plugins are written to the config. */
export function loadCatalog(): ReadonlyMap<string, CatalogEntry> {
  const raw = JSON.parse(readFileSync(path.join(TEMPLATES_DIR, 'catalog.json'), 'utf8')) as {
    plugins: Record<string, CatalogEntry>;
  };
  return new Map(Object.entries(raw.plugins));
}

/**
 * The plugins to enable: the requested ones (or the default set) and everything they depend on,
 * `http` always, in catalog order. Throws for unknown names and plugins that need hand-written setup.
 */
export function selectPlugins(
  catalog: ReadonlyMap<string, CatalogEntry>,
  requested: readonly string[] | undefined,
): { selected: string[]; added: Map<string, string> } {
  const names = requested ?? [...catalog].filter(([, e]) => e.default).map(([n]) => n);
  const unknown = names.filter((n) => !catalog.has(n));
  if (unknown.length) {
    const list = unknown.map((n) => `"${n}"`).join(', ');
    throw CliErrors.PLUGIN_UNKNOWN(
      `unknown plugin${unknown.length > 1 ? 's' : ''} ${list} (known: ${[...catalog.keys()].join(', ')})`,
    );
  }
  for (const n of names) {
    const reason = catalog.get(n)!.needsSetup;
    if (reason) {
      throw CliErrors.PLUGIN_NEEDS_SETUP(`plugin "${n}" cannot be enabled with defaults: ${reason}`, {
        fix: `leave "${n}" out of --plugins, then add it to gantry.config.json as ${catalog.get(n)!.package}'s README says`,
      });
    }
  }
  // Why each plugin nobody asked for is there: "users" pulls in "auth-jwt", and so on.
  const added = new Map<string, string>();
  const chosen = new Set<string>();
  const visit = (name: string, by: string | undefined): void => {
    if (chosen.has(name)) return;
    chosen.add(name);
    if (by !== undefined && !names.includes(name)) added.set(name, by);
    for (const dep of catalog.get(name)!.dependsOn) visit(dep, name);
  };
  visit('http', names.includes('http') ? undefined : 'every app');
  for (const n of names) visit(n, undefined);
  return { selected: [...catalog.keys()].filter((n) => chosen.has(n)), added };
}
