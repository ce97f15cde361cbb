// What the packaging suites know about the repository: the packages lerna publishes, their
// manifests, and how each plugin boots with no outside service.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from test/dist/packaging/). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The fields of a package.json the suites read. */
export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly description?: string;
  readonly license?: string;
  readonly type?: string;
  readonly repository?: { readonly type?: string; readonly url?: string; readonly directory?: string };
  readonly engines?: Record<string, string>;
  readonly exports?: Record<string, string | Record<string, string>>;
  readonly files?: readonly string[];
  readonly bin?: Record<string, string>;
  readonly scripts?: Record<string, string>;
  readonly publishConfig?: Record<string, string>;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { readonly optional?: boolean }>;
  readonly devDependencies?: Record<string, string>;
}

/** One publishable package: its folder relative to the root, absolute path, manifest and raw text. */
export interface WorkspacePackage {
  readonly dir: string;
  readonly abs: string;
  readonly manifest: Manifest;
  readonly text: string;
}

/** Reads a JSON file relative to the repository root. */
export function readJson<T>(rel: string): T {
  return JSON.parse(readFileSync(path.join(REPO, rel), 'utf8')) as T;
}

/** Every package lerna publishes (the `packages` globs of lerna.json, `<folder>/*` form), sorted by folder. */
export function publishablePackages(): WorkspacePackage[] {
  const { packages } = readJson<{ packages: string[] }>('lerna.json');
  const found: WorkspacePackage[] = [];
  for (const glob of packages) {
    if (!glob.endsWith('/*'))
      throw new TypeError(
        `lerna.json package glob "${glob}" is not of the form <folder>/*; teach test/packaging/workspace.ts to expand it`,
      );
    const parent = glob.slice(0, -2);
    for (const entry of readdirSync(path.join(REPO, parent), { withFileTypes: true })) {
      const dir = `${parent}/${entry.name}`;
      const file = path.join(REPO, dir, 'package.json');
      if (!entry.isDirectory() || !existsSync(file)) continue;
      const text = readFileSync(file, 'utf8');
      const manifest = JSON.parse(text) as Manifest;
      if (!manifest.private) found.push({ dir, abs: path.join(REPO, dir), manifest, text });
    }
  }
  return found.sort((a, b) => a.dir.localeCompare(b.dir));
}

/** The npm package of a plugin name: `http` is @gantry/http, the others @gantry/plugin-<name>. */
export function packageOfPlugin(name: string): string {
  return name === 'http' ? '@gantry/http' : `@gantry/plugin-${name}`;
}

/** Options a plugin needs to boot without outside services (the embedded profile's choices). */
export function bootOptions(mailDir: string): Record<string, Record<string, unknown>> {
  return {
    database: { dbName: ':memory:' },
    mailer: { transport: 'file', from: 'noreply@example.com', baseUrl: 'http://localhost:3000', outDir: mailDir },
    'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test' },
    redis: { url: 'redis://127.0.0.1:1', critical: false }, // no Redis needed: refused at once, reported degraded, not down
    oauth: {
      callbackBaseUrl: 'https://app.example.com',
      providers: { google: { clientId: 'packaging', clientSecret: 'packaging-secret' } },
    },
    mfa: { encryptionKey: Buffer.alloc(32, 7).toString('base64') },
    'elk-logger': { console: { enabled: false } }, // the boot's report is the only line on stdout
    'consul-config': { url: 'http://127.0.0.1:1', backoff: { initialMs: 50, maxMs: 200 } }, // no Consul: degraded
  };
}

/**
 * Plugins an app enables beside a plugin served over HTTP for it to boot, besides its dependencies:
 * those that guard its routes (the HTTP layer refuses to serve a route that needs a signed-in caller
 * or a permission when no enabled plugin checks it).
 */
export const COMPANIONS: Readonly<Record<string, readonly string[]>> = {
  audit: ['auth-jwt', 'rbac'],
  'sessions-redis': ['database', 'rbac'],
  rbac: ['auth-jwt'],
};
