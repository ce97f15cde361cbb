// readAnnotations reads @openapi blocks with swagger-jsdoc while keeping swagger-parser (whose result
// swagger-jsdoc 6 never uses) unloaded: the output must be what swagger-jsdoc gives with the real parser.
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { mergeAnnotations, readAnnotations } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const entry = pathToFileURL(path.join(here, '../src/index.js')).href;

/** Runs an ES module snippet in a fresh Node process, `readAnnotations` and `createRequire` in scope; its output. */
function inFreshProcess(body: string): string {
  return execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';\nconst { readAnnotations } = await import(${JSON.stringify(entry)});\n${body}`,
    ],
    { cwd: here, encoding: 'utf8' },
  );
}

describe('openapi: reading @openapi annotations', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-annotations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives what swagger-jsdoc gives with swagger-parser loaded, and leaves the real swagger-parser to others', async () => {
    writeFileSync(
      path.join(dir, 'a.js'),
      `/**
 * @openapi
 * /widgets/{id}:
 *   get:
 *     summary: One widget
 *     tags: [widgets]
 *     responses:
 *       200:
 *         content:
 *           application/json:
 *             schema: { $ref: '#/components/schemas/Widget' }
 * components:
 *   schemas:
 *     Widget:
 *       type: object
 *       properties: { id: { type: string } }
 * tags:
 *   - name: widgets
 *     description: Things with a size
 */
export {};
`,
    );
    writeFileSync(
      path.join(dir, 'b.js'),
      `/**
 * @openapi
 * /widgets:
 *   post:
 *     description: Makes one.
 *     responses:
 *       201: { description: made }
 */
export {};
`,
    );
    const globs = [path.join(dir, '*.js')];
    const { annotations: ours } = await readAnnotations(globs, dir);
    // swagger-jsdoc as its README uses it, in a process of its own where swagger-parser does load.
    const script = `
      const swaggerJsdoc = require('swagger-jsdoc');
      const out = swaggerJsdoc({ definition: { openapi: '3.1.1', info: { title: 'annotations', version: '0' } }, apis: ${JSON.stringify(globs)}, failOnErrors: true });
      if (!require.cache[require.resolve('@apidevtools/swagger-parser', { paths: [require.resolve('swagger-jsdoc')] })]) throw new Error('swagger-parser was not loaded');
      process.stdout.write(JSON.stringify(out));
    `;
    const theirs = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: here, encoding: 'utf8' }));
    expect(ours).to.deep.equal(theirs);
    expect((ours as { paths: Record<string, unknown> }).paths).to.have.keys(['/widgets/{id}', '/widgets']);

    // In a fresh process, reading them never loads swagger-parser.
    const loaded = inFreshProcess(
      `await readAnnotations(${JSON.stringify(globs)}, ${JSON.stringify(dir)});
       const scoped = createRequire(createRequire(${JSON.stringify(entry)}).resolve('swagger-jsdoc'));
       process.stdout.write(String(Object.keys(scoped.cache).some((id) => id.includes('swagger-parser'))));`,
    );
    expect(loaded, 'swagger-parser loaded by readAnnotations').to.equal('false');

    // The stand-in was swagger-jsdoc's alone: whoever asks for swagger-parser now gets the real one.
    const scoped = createRequire(require.resolve('swagger-jsdoc'));
    const parser = scoped('@apidevtools/swagger-parser') as { validate?: unknown };
    expect(parser.validate).to.be.a('function');
  });
});

describe('openapi: the annotations cache', () => {
  let dir: string;
  let cacheDir: string;
  const block = (p: string, summary: string): string =>
    `/**\n * @openapi\n * ${p}:\n *   get:\n *     summary: ${summary}\n */\nexport {};\n`;
  const read = (skips: string[] = []) =>
    readAnnotations(['src/*.js'], dir, { dir: cacheDir, onSkip: (reason) => skips.push(reason) });
  const summaries = (annotations: unknown): string[] =>
    Object.values((annotations as { paths: Record<string, { get: { summary: string } }> }).paths)
      .map((item) => item.get.summary)
      .sort();
  const cacheFiles = (): string[] => (existsSync(cacheDir) ? readdirSync(cacheDir) : []);

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-annotations-cache-'));
    cacheDir = path.join(dir, 'node_modules', '.cache', 'gantry-openapi');
    mkdirSync(path.join(dir, 'src'));
    writeFileSync(path.join(dir, 'src', 'a.js'), block('/a', 'A'));
    writeFileSync(path.join(dir, 'src', 'b.js'), block('/b', 'B'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('answers the second read from the cache, with what swagger-jsdoc gave', async () => {
    const skips: string[] = [];
    const first = await read(skips);
    expect(first.cached).to.equal(false);
    expect(summaries(first.annotations)).to.deep.equal(['A', 'B']);
    expect(cacheFiles()).to.have.length(1);
    const second = await read(skips);
    expect(second.cached).to.equal(true);
    expect(second.annotations).to.deep.equal(first.annotations);
    expect(skips).to.deep.equal([]);
  });

  it('reads again when a file is changed, added or removed', async () => {
    await read();
    writeFileSync(path.join(dir, 'src', 'a.js'), block('/a', 'A, changed'));
    const changed = await read();
    expect(changed.cached).to.equal(false);
    expect(summaries(changed.annotations)).to.deep.equal(['A, changed', 'B']);
    expect((await read()).cached).to.equal(true);

    writeFileSync(path.join(dir, 'src', 'c.js'), block('/c', 'C'));
    const added = await read();
    expect(added.cached).to.equal(false);
    expect(summaries(added.annotations)).to.deep.equal(['A, changed', 'B', 'C']);

    rmSync(path.join(dir, 'src', 'b.js'));
    const removed = await read();
    expect(removed.cached).to.equal(false);
    expect(summaries(removed.annotations)).to.deep.equal(['A, changed', 'C']);
    expect(cacheFiles()).to.have.length(1);
  });

  it('reads again over a malformed entry, or one of another swagger-jsdoc version, and rewrites it', async () => {
    await read();
    const file = path.join(cacheDir, cacheFiles()[0]!);
    for (const damage of [
      (text: string) => text.slice(0, text.length / 2),
      (text: string) => JSON.stringify({ ...JSON.parse(text), swaggerJsdoc: '0.0.1' }),
      (text: string) => JSON.stringify({ ...JSON.parse(text), annotations: [] }),
      (text: string) => JSON.stringify({ ...JSON.parse(text), format: 0 }),
    ]) {
      writeFileSync(file, damage(readFileSync(file, 'utf8')));
      const again = await read();
      expect(again.cached).to.equal(false);
      expect(summaries(again.annotations)).to.deep.equal(['A', 'B']);
      expect((await read()).cached, 'rewritten').to.equal(true);
    }
  });

  it("takes nothing from the cache once a linked folder sits under a pattern (Node's glob does not enter it)", async () => {
    const deep = (skips: string[] = []) =>
      readAnnotations(['src/**/*.js'], dir, { dir: cacheDir, onSkip: (reason) => skips.push(reason) });
    await deep();
    expect((await deep()).cached).to.equal(true);
    mkdirSync(path.join(dir, 'shared'));
    writeFileSync(path.join(dir, 'shared', 'd.js'), block('/d', 'D'));
    symlinkSync(path.join(dir, 'shared'), path.join(dir, 'src', 'shared'));
    for (let i = 0; i < 2; i++) {
      const skips: string[] = [];
      const read = await deep(skips);
      expect(read.cached).to.equal(false);
      expect(summaries(read.annotations), 'swagger-jsdoc reads the linked folder').to.deep.equal(['A', 'B', 'D']);
      expect(skips.join('\n')).to.match(/src\/shared is a symbolic link/);
    }
  });

  it('never caches annotations that cannot be read', async () => {
    writeFileSync(path.join(dir, 'src', 'bad.js'), '/**\n * @openapi\n * /bad:\n *   get: [unclosed\n */\n');
    for (let i = 0; i < 2; i++) {
      const err = await read().then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
      expect(err?.code).to.equal('GANTRY_OPENAPI_ANNOTATIONS_INVALID');
    }
    expect(cacheFiles()).to.deep.equal([]);
  });

  it('still reads when the cache folder cannot be written, and says why', async () => {
    writeFileSync(path.join(dir, 'node_modules'), 'a file where the cache folder would go');
    const skips: string[] = [];
    const first = await read(skips);
    expect(summaries(first.annotations)).to.deep.equal(['A', 'B']);
    expect(first.cached).to.equal(false);
    expect(skips).to.have.length(1);
    expect(skips[0]).to.match(/cannot be written/);
  });

  it('keeps no cache when told not to', async () => {
    const options = { dir: false as const };
    expect((await readAnnotations(['src/*.js'], dir, options)).cached).to.equal(false);
    expect((await readAnnotations(['src/*.js'], dir, options)).cached).to.equal(false);
    expect(existsSync(path.join(dir, 'node_modules'))).to.equal(false);
  });

  it('does not load swagger-jsdoc on a hit (fresh process)', async () => {
    await read();
    const loaded = inFreshProcess(
      `const read = await readAnnotations(['src/*.js'], ${JSON.stringify(dir)}, { dir: ${JSON.stringify(cacheDir)} });
       const id = createRequire(${JSON.stringify(entry)}).resolve('swagger-jsdoc');
       process.stdout.write(JSON.stringify({ cached: read.cached, loaded: id in createRequire(id).cache }));`,
    );
    expect(JSON.parse(loaded)).to.deep.equal({ cached: true, loaded: false });
  });
});

describe('openapi: merging annotations', () => {
  it('never reaches a prototype, whatever keys the annotations hold', () => {
    const document = {
      paths: { '/a': { get: { summary: 'generated', responses: { '200': { description: 'ok' } } } } },
    } as Record<string, unknown>;
    const annotations = JSON.parse(
      '{"paths":{"/a":{"get":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"responses":{"__proto__":{"polluted":true}}}}},"__proto__":{"polluted":true}}',
    ) as Record<string, unknown>;
    mergeAnnotations(document, annotations);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect((Object.prototype as Record<string, unknown>).polluted).to.equal(undefined);
    const get = (document.paths as Record<string, Record<string, Record<string, unknown>>>)['/a']!.get!;
    expect(Object.getPrototypeOf(get)).to.equal(Object.prototype);
    expect(Object.getPrototypeOf(get.responses)).to.equal(Object.prototype);
    expect(get.constructor, 'an own key of the document, not Object').to.deep.equal({ prototype: { polluted: true } });
  });
});
