// scripts/eager-wrappers.mjs puts esbuild's module functions in parentheses so that V8 compiles them
// with their chunk (and Node's compile cache keeps them): the code must do the same, V8 must really
// compile them eagerly, the source map must still point at the same original positions, and the
// bundle `npm start` runs must have gone through it.
import { readdirSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { expect } from 'chai';
import { build } from 'esbuild';
import { bundledMain, repo } from '../support/sandbox-process.js';

interface Insertion {
  offset: number;
  text: string;
}
interface EagerWrappers {
  wrapperInsertions(code: string): Insertion[];
  applyInsertions(code: string, insertions: Insertion[]): string;
  shiftMappings(mappings: string, code: string, insertions: Insertion[]): string;
}

const eager = (await import(pathToFileURL(path.join(repo, 'scripts/eager-wrappers.mjs')).href)) as EagerWrappers;

/** A small bundle as scripts/bundle.mjs makes them: a CommonJS module required from an ES module, minified. */
async function sampleBundle(): Promise<{ code: string; map: { mappings: string } }> {
  const cjs = [
    'exports.double = function double(n) { return n * 2; };',
    ...Array.from({ length: 40 }, (_, i) => `exports.f${i} = [${i}, ${i + 1}].map((x) => x + ${i});`),
  ].join('\n');
  const result = await build({
    stdin: {
      contents: "import lib from './lib.cjs';\nexport const answer = lib.double(21) + lib.f3[1];\n",
      resolveDir: '/virtual',
      sourcefile: 'entry.js',
    },
    plugins: [
      {
        name: 'virtual',
        setup(b) {
          b.onResolve({ filter: /lib\.cjs$/ }, () => ({ path: '/virtual/lib.cjs', namespace: 'v' }));
          b.onLoad({ filter: /.*/, namespace: 'v' }, () => ({ contents: cjs, loader: 'js' }));
        },
      },
    ],
    bundle: true,
    format: 'cjs',
    platform: 'node',
    minify: true,
    keepNames: true,
    sourcemap: 'external',
    write: false,
    outfile: '/virtual/out.js',
  });
  const js = result.outputFiles.find((f) => f.path.endsWith('.js'))!;
  const map = result.outputFiles.find((f) => f.path.endsWith('.map'))!;
  return { code: js.text, map: JSON.parse(map.text) as { mappings: string } };
}

function run(code: string): unknown {
  const module = { exports: {} as { answer?: unknown } };
  vm.runInNewContext(code, { module, exports: module.exports, require: () => ({}) });
  return module.exports.answer;
}

/**
 * Bytes of V8's code cache right after compiling (no call made): larger when functions were compiled
 * eagerly. The source is made unique first: V8 would otherwise hand back a script it compiled (and
 * ran) before, with the functions that run compiled since.
 */
function cachedBytes(code: string): number {
  return new vm.Script(`${code}\n// ${Math.random()}`).createCachedData().length;
}

describe('bundle: module functions compiled with their chunk', () => {
  it('wraps the CommonJS module function only; the code answers the same and V8 compiles it eagerly', async () => {
    const { code } = await sampleBundle();
    const insertions = eager.wrapperInsertions(code);
    expect(insertions.map((i) => i.text)).to.deep.equal(['(', ')']);
    const wrapped = eager.applyInsertions(code, insertions);
    expect(run(wrapped)).to.equal(run(code)).and.to.equal(49);
    expect(cachedBytes(wrapped), 'the wrapped module body is in the cache').to.be.greaterThan(2 * cachedBytes(code));
    expect(eager.wrapperInsertions(wrapped), 'a second pass finds nothing left').to.deep.equal([]);
  });

  it('keeps every generated position mapped to the same original one', async () => {
    const { code, map } = await sampleBundle();
    const insertions = eager.wrapperInsertions(code);
    const wrapped = eager.applyInsertions(code, insertions);
    const before = new SourceMap({ ...map, version: 3 } as never);
    const after = new SourceMap({
      ...map,
      version: 3,
      mappings: eager.shiftMappings(map.mappings, code, insertions),
    } as never);
    const position = (text: string, offset: number): [number, number] => {
      const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
      return [text.slice(0, lineStart).split('\n').length - 1, offset - lineStart];
    };
    let compared = 0;
    for (let offset = 0; offset < code.length; offset++) {
      const moved = offset + insertions.filter((i) => i.offset <= offset).length;
      expect(wrapped[moved]).to.equal(code[offset]);
      const a = before.findEntry(...position(code, offset));
      const b = after.findEntry(...position(wrapped, moved));
      if (!('originalSource' in a)) continue;
      if (!('originalSource' in b)) expect.fail(`offset ${offset}: mapped before, not after`);
      expect([b.originalSource, b.originalLine, b.originalColumn], `offset ${offset}`).to.deep.equal([
        a.originalSource,
        a.originalLine,
        a.originalColumn,
      ]);
      compared++;
    }
    expect(compared).to.be.greaterThan(100);
  });

  it('has gone through the bundle npm start runs', () => {
    const dir = path.dirname(bundledMain);
    let parenthesized = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
      const code = readFileSync(path.join(dir, file), 'utf8');
      expect(eager.wrapperInsertions(code), file).to.deep.equal([]);
      // `=p(((exports, module) => …))`, `=p((exports => …))`, `=o((() => …))`: a helper's call, then the
      // added parenthesis.
      parenthesized += code.match(/=[\w$]+\(\((?:\(|function\b|[\w$]+=>)/g)?.length ?? 0;
    }
    expect(parenthesized, 'module functions in parentheses').to.be.greaterThan(500);
  });
});
