// The sandbox as `npm start` runs it: the bundle scripts/bundle.mjs makes of dist/src/main.js (the
// test scripts build it before mocha). Its plugin loaders cover every key of the config, and a plugin
// the config does not enable stays out of the process: its chunks are never loaded.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { bundledMain, repo, startSandbox, stopSandbox } from '../support/sandbox-process.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const resolveLog = path.join(here, '../support/resolve-log.js');
const sandbox = path.join(repo, 'sandbox');
const bundleDir = path.dirname(bundledMain);

interface Metafile {
  outputs: Record<string, { inputs: Record<string, unknown> }>;
}

/** Every plugin key the sandbox's config names, in its base and in every profile. */
function configKeys(): string[] {
  const config = JSON.parse(readFileSync(path.join(sandbox, 'gantry.config.json'), 'utf8')) as {
    plugins: Record<string, unknown>;
    profiles: Record<string, { plugins?: Record<string, unknown> }>;
  };
  const keys = new Set(Object.keys(config.plugins));
  for (const profile of Object.values(config.profiles)) for (const k of Object.keys(profile.plugins ?? {})) keys.add(k);
  return [...keys].sort();
}

/** The chunk files (absolute paths) holding any module under `folder` (relative to the repository). */
function chunksOf(meta: Metafile, folder: string): string[] {
  return Object.entries(meta.outputs)
    .filter(([out, o]) => out.endsWith('.js') && Object.keys(o.inputs).some((i) => i.startsWith(folder)))
    .map(([out]) => path.join(repo, out));
}

describe('sandbox bundle (npm start)', function () {
  this.timeout(30_000);

  it('has a loader for every plugin key of gantry.config.json, and no other', async () => {
    const { pluginLoaders } = (await import(pathToFileURL(path.join(sandbox, 'dist/src/plugins.js')).href)) as {
      pluginLoaders: Record<string, unknown>;
    };
    expect(Object.keys(pluginLoaders).sort()).to.deep.equal(configKeys());
  });

  it('serves with the plugins the config enables and loads no chunk of the others', async () => {
    const meta = JSON.parse(readFileSync(path.join(bundleDir, 'meta.json'), 'utf8')) as Metafile;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-bundle-'));
    const log = path.join(dir, 'resolved.txt');
    const configFile = path.join(dir, 'gantry.config.json');
    writeFileSync(configFile, JSON.stringify({ plugins: { http: {}, './dist/src/demo/plugin.js': {} } }));
    const app = await startSandbox({ GANTRY_CONFIG: configFile, RESOLVE_LOG: log }, undefined, {
      nodeArgs: ['--import', pathToFileURL(resolveLog).href],
      waitFor: '/readyz',
    });
    try {
      const res = await fetch(`${app.base}/api/v1/demo/wait?ms=0`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    } finally {
      await stopSandbox(app);
    }
    const loaded = new Set(
      readFileSync(log, 'utf8')
        .split('\n')
        .filter((u) => u.startsWith('file:'))
        .map((u) => fileURLToPath(u)),
    );
    rmSync(dir, { recursive: true, force: true });
    // The two enabled plugins came from the bundle, not from their files beside it.
    for (const folder of ['packages/http/dist/src/', 'packages/core/dist/src/', 'sandbox/dist/src/demo/']) {
      const chunks = chunksOf(meta, folder);
      expect(chunks, folder).to.not.be.empty;
      expect(
        chunks.some((c) => loaded.has(c)),
        `${folder} loaded from a chunk`,
      ).to.equal(true);
    }
    const unbundled = [...loaded].filter((f) => /\/(packages|plugins)\/[^/]+\/dist\/src\//.test(f));
    expect(unbundled, 'Gantry modules loaded outside the bundle').to.deep.equal([]);
    // The http plugin's engine (the one GANTRY_HTTP__ENGINE chooses, express by default) and body-parser
    // come from the bundle too, and the other engine not at all.
    const engine = process.env.GANTRY_HTTP__ENGINE === 'fastify' ? 'fastify' : 'express';
    const other = engine === 'fastify' ? 'express' : 'fastify';
    expect(
      chunksOf(meta, `node_modules/${engine}/`).some((c) => loaded.has(c)),
      `${engine} chunk loaded`,
    ).to.equal(true);
    const fromNodeModules = [...loaded].filter((f) => /\/node_modules\/(express|body-parser|fastify)\//.test(f));
    expect(fromNodeModules, 'engine modules loaded outside the bundle').to.deep.equal([]);
    expect(chunksOf(meta, `node_modules/${other}/`).filter((c) => loaded.has(c))).to.deep.equal([]);
    // Every other plugin: none of its chunks.
    const others = [
      ...[
        'audit',
        'auth-jwt',
        'database',
        'graphql',
        'mailer',
        'metrics',
        'openapi',
        'users',
        'websocket',
        'oauth',
      ].map((p) => `plugins/${p}/dist/src/`),
      'sandbox/dist/src/notes/',
      'sandbox/dist/src/dev-idp/',
    ];
    for (const folder of others) {
      const chunks = chunksOf(meta, folder);
      expect(chunks, folder).to.not.be.empty;
      expect(
        chunks.filter((c) => loaded.has(c)),
        `chunks of ${folder}`,
      ).to.deep.equal([]);
    }
  });
});
