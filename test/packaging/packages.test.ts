// The shape of every package lerna publishes, checked on the built tree (fast; the registry suite
// publishes and installs them for real): what the tarball holds, what `exports` opens, what the
// compiled code imports at run time against what package.json declares.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isPlugin, type Plugin } from '@gantry/core';
import { expect } from 'chai';
import semver from 'semver';
import ts from 'typescript';
import {
  packageOfPlugin,
  publishablePackages,
  readJson,
  REPO,
  type Manifest,
  type WorkspacePackage,
} from './workspace.js';

const FILES = ['dist/src', 'src', 'README.md', 'LICENSE', 'CHANGELOG.md'];
const SUBPATHS = ['.', './tokens', './testing', './maildev', './kafka', './package.json'];
const MIN_NODE = '22.12.0';

const packages = publishablePackages();
const versions = new Map(packages.map((p) => [p.manifest.name, p.manifest.version]));
const rootManifest = readJson<Manifest & { repository: { url: string } }>('package.json');
const license = readFileSync(path.join(REPO, 'LICENSE'), 'utf8');

/** Every file under `dir` (relative paths), recursively. */
function walk(dir: string, rel = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name), `${rel}${e.name}/`) : [`${rel}${e.name}`],
  );
}

/** A module's run-time imports: bare or relative specifiers, static or dynamic (type-only ones are gone once compiled). */
function runtimeImports(file: string): { specifier: string; dynamic: boolean }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const found: { specifier: string; dynamic: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push({ specifier: node.moduleSpecifier.text, dynamic: false });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      // A computed specifier (the kernel importing a plugin by path) names no package.
      if (arg && ts.isStringLiteral(arg)) found.push({ specifier: arg.text, dynamic: true });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The package a bare specifier belongs to (`@scope/name/sub` → `@scope/name`); undefined for relative and node: ones. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function optionalPeers(m: Manifest): string[] {
  return Object.entries(m.peerDependenciesMeta ?? {})
    .filter(([, meta]) => meta.optional === true)
    .map(([name]) => name);
}

function requiredPeers(m: Manifest): string[] {
  const optional = new Set(optionalPeers(m));
  return Object.keys(m.peerDependencies ?? {}).filter((name) => !optional.has(name));
}

/** The exported plugin of a plugin package, from its build. */
async function pluginOf(pkg: WorkspacePackage): Promise<Plugin> {
  const mod = (await import(pathToFileURL(path.join(pkg.abs, 'dist/src/index.js')).href)) as { plugin?: unknown };
  if (!isPlugin(mod.plugin)) throw new TypeError(`${pkg.manifest.name} does not export a plugin named "plugin"`);
  return mod.plugin;
}

describe('packaging: the shape of every published package', () => {
  it('finds the packages lerna publishes', () => {
    expect(packages.map((p) => p.manifest.name)).to.include.members([
      '@gantry/core',
      '@gantry/http',
      '@gantry/testing',
      '@gantry/plugin-users',
      '@gantry/plugin-rbac',
    ]);
  });

  it('the repository has an MIT LICENSE for "Gantry contributors"', () => {
    expect(license).to.match(/^MIT License\n\nCopyright \(c\) \d{4} Gantry contributors\n/);
    expect(rootManifest.license).to.equal('MIT');
    expect(rootManifest.repository.url).to.match(/^git\+https:\/\/.+\.git$/);
  });

  for (const pkg of packages) {
    const m = pkg.manifest;
    const srcHas = (file: string) => existsSync(path.join(pkg.abs, 'src', file));

    describe(m.name, () => {
      it('ships its build, its sources (the maps point at them), README, LICENSE and CHANGELOG: nothing else', () => {
        // A command line tool also ships the templates it copies; a package with a data folder (the users
        // plugin's common-password list), that folder.
        const extra = [...(m.bin ? ['templates'] : []), ...(existsSync(path.join(pkg.abs, 'data')) ? ['data'] : [])];
        expect(m.files).to.deep.equal([...FILES.slice(0, 2), ...extra, ...FILES.slice(2)]);
        expect(existsSync(path.join(pkg.abs, 'README.md')), 'README.md').to.equal(true);
        expect(readFileSync(path.join(pkg.abs, 'CHANGELOG.md'), 'utf8'), 'CHANGELOG.md').to.match(
          /^# Changelog\n[\s\S]*\n## \d+\.\d+\.\d+/,
        );
        expect(readFileSync(path.join(pkg.abs, 'LICENSE'), 'utf8'), 'LICENSE is the root LICENSE').to.equal(license);
      });

      it('builds itself when packed and carries the common metadata', () => {
        expect(m.scripts?.prepack).to.equal('tsc -b');
        expect(m.license).to.equal('MIT');
        expect(m.type).to.equal('module');
        expect(semver.valid(m.version), 'version').to.be.a('string');
        const engines = m.engines?.node;
        expect(engines, 'engines.node').to.be.a('string');
        expect(
          semver.gte(semver.minVersion(engines!)!, MIN_NODE),
          `engines.node ${engines} allows a Node older than ${MIN_NODE}`,
        ).to.equal(true);
        expect(m.repository).to.deep.equal({ type: 'git', url: rootManifest.repository.url, directory: pkg.dir });
        expect(m.publishConfig).to.deep.equal({ access: 'public' });
        expect(m.description, 'description').to.be.a('string').and.not.equal('');
      });

      it('is written as lerna writes it (a publish leaves package.json untouched)', () => {
        // lerna rewrites every manifest it publishes: JSON, 2 spaces, dependency maps sorted.
        const sorted = (o?: Record<string, string>) =>
          o ? JSON.stringify(Object.keys(o)) === JSON.stringify(Object.keys(o).sort()) : true;
        expect(pkg.text).to.equal(`${JSON.stringify(m, null, 2)}\n`);
        for (const key of ['dependencies', 'devDependencies', 'peerDependencies'] as const)
          expect(sorted(m[key]), `${key} sorted`).to.equal(true);
      });

      it('exports only its entry points: ".", "./tokens", "./testing", "./maildev", "./kafka", "./package.json"', () => {
        const exports = m.exports ?? {};
        expect(SUBPATHS, 'no other subpath').to.include.members(Object.keys(exports));
        expect(exports['./package.json']).to.equal('./package.json');
        expect(Object.hasOwn(exports, './tokens'), './tokens iff src/tokens.ts').to.equal(srcHas('tokens.ts'));
        expect(Object.hasOwn(exports, './testing'), './testing iff src/testing.ts').to.equal(srcHas('testing.ts'));
        for (const [sub, target] of Object.entries(exports)) {
          if (sub === './package.json') continue;
          const entry = sub === '.' ? 'index' : sub.slice(2);
          expect(target, sub).to.deep.equal({ types: `./dist/src/${entry}.d.ts`, default: `./dist/src/${entry}.js` });
          expect(existsSync(path.join(pkg.abs, 'src', `${entry}.ts`)), `src/${entry}.ts`).to.equal(true);
        }
      });

      it('takes other @gantry packages as peers with one range each: ^<their version>', () => {
        // A command line tool (bin) runs outside any app (npx): it brings its own kernel, and uses the
        // app's own @gantry/core when the app has one.
        const deps = Object.keys(m.dependencies ?? {}).filter((d) => !(m.bin && d === '@gantry/core'));
        expect(
          deps.filter((d) => d.startsWith('@gantry/')),
          'a @gantry package in dependencies would install a second kernel',
        ).to.deep.equal([]);
        for (const [name, range] of Object.entries(m.peerDependencies ?? {})) {
          if (!name.startsWith('@gantry/')) continue;
          expect(versions.has(name), `${name} is published from this repository`).to.equal(true);
          expect(range, name).to.equal(`^${versions.get(name)!}`);
        }
        for (const name of Object.keys(m.peerDependenciesMeta ?? {}))
          expect(m.peerDependencies, `peerDependenciesMeta.${name}`).to.have.property(name);
      });

      it('imports at run time only what it declares, and never an optional peer from its main or ./tokens entry', () => {
        const declared = new Set([
          ...Object.keys(m.dependencies ?? {}),
          ...Object.keys(m.peerDependencies ?? {}),
          m.name,
        ]);
        const optional = new Set(optionalPeers(m));
        const dist = path.join(pkg.abs, 'dist/src');
        const files = walk(dist).filter((f) => f.endsWith('.js'));
        expect(files, 'dist/src is built').to.not.be.empty;
        const undeclared = files.flatMap((file) =>
          runtimeImports(path.join(dist, file))
            .filter(({ specifier }) => packageOf(specifier) !== undefined && !declared.has(packageOf(specifier)!))
            .map(({ specifier }) => `${file}: ${specifier}`),
        );
        expect(undeclared, 'imported but not in dependencies or peerDependencies').to.deep.equal([]);

        // What loading the package costs: every module statically reachable from "." and "./tokens".
        // A static import of an optional peer there fails the whole plugin when that peer is not
        // installed. (A subpath such as @gantry/testing/maildev exists to opt into one.)
        const staticOptional: string[] = [];
        const seen = new Set<string>();
        const queue = ['index.js', ...(srcHas('tokens.ts') ? ['tokens.js'] : [])];
        while (queue.length) {
          const file = queue.shift()!;
          if (seen.has(file)) continue;
          seen.add(file);
          for (const { specifier, dynamic } of runtimeImports(path.join(dist, file))) {
            if (dynamic) continue; // a dynamic import runs only on the path that asks for it
            if (specifier.startsWith('.'))
              queue.push(path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)));
            else if (optional.has(packageOf(specifier) ?? '')) staticOptional.push(`${file}: ${specifier}`);
          }
        }
        expect(
          staticOptional,
          'optional peers imported at module load (declare their tokens by name instead: see docs/writing-a-plugin.md)',
        ).to.deep.equal([]);
      });

      it('source maps point at sources the package ships', () => {
        const maps = walk(path.join(pkg.abs, 'dist/src')).filter((f) => f.endsWith('.map'));
        expect(maps, 'maps are built').to.not.be.empty;
        const unresolved: string[] = [];
        for (const map of maps) {
          const abs = path.join(pkg.abs, 'dist/src', map);
          const { sources, sourceRoot } = JSON.parse(readFileSync(abs, 'utf8')) as {
            sources: string[];
            sourceRoot?: string;
          };
          for (const source of sources) {
            const target = path.resolve(path.dirname(abs), sourceRoot ?? '', source);
            const rel = path.relative(pkg.abs, target).split(path.sep).join('/');
            const shipped = FILES.some((f) => rel === f || rel.startsWith(`${f}/`));
            if (!existsSync(target) || !shipped) unresolved.push(`${map} → ${rel}`);
          }
        }
        expect(unresolved).to.deep.equal([]);
      });

      if (srcHas('tokens.ts')) {
        it('its ./tokens entry costs nothing to import: token() calls and type-only imports', () => {
          const imports = runtimeImports(path.join(pkg.abs, 'dist/src/tokens.js')).map((i) => i.specifier);
          expect(imports).to.deep.equal(['@gantry/core']);
        });
      }

      if (srcHas('peer-tokens.ts')) {
        it('declares each optional collaborator’s token under the name its provider gives it', async () => {
          const declaredTokens = (await import(
            pathToFileURL(path.join(pkg.abs, 'dist/src/peer-tokens.js')).href
          )) as Record<string, unknown>;
          const provided = new Map<symbol, string>();
          for (const peer of optionalPeers(m)) {
            const tokens = (await import(`${peer}/tokens`)) as Record<string, unknown>;
            for (const [key, value] of Object.entries(tokens))
              if (typeof value === 'symbol') provided.set(value, `${peer}/tokens#${key}`);
          }
          const entries = Object.entries(declaredTokens);
          expect(entries, 'peer-tokens.ts exports tokens').to.not.be.empty;
          for (const [key, value] of entries) {
            expect(typeof value, key).to.equal('symbol');
            expect(
              provided.has(value as symbol),
              `${key} (${String((value as symbol).description)}) is exported by no optional peer's ./tokens: its name drifted`,
            ).to.equal(true);
          }
        });
      }

      if (pkg.dir.startsWith('plugins/')) {
        it('lists its dependsOn plugins as peers and its optionalDependsOn plugins as optional peers; reports its own version', async () => {
          const plugin = await pluginOf(pkg);
          expect(plugin.version, 'definePlugin version').to.equal(m.version);
          const required = requiredPeers(m);
          const optional = optionalPeers(m);
          for (const dep of plugin.dependsOn ?? [])
            expect(required, `dependsOn "${dep}"`).to.include(packageOfPlugin(dep));
          for (const dep of plugin.optionalDependsOn ?? [])
            expect(optional, `optionalDependsOn "${dep}"`).to.include(packageOfPlugin(dep));
        });
      }
    });
  }
});
