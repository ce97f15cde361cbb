// readAnnotations reads @openapi blocks with swagger-jsdoc while keeping swagger-parser (whose result
// swagger-jsdoc 6 never uses) unloaded: the output must be what swagger-jsdoc gives with the real parser.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { readAnnotations } from '../src/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

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
    const ours = await readAnnotations(globs, dir);
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
    const entry = pathToFileURL(path.join(here, '../src/index.js')).href;
    const loaded = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createRequire } from 'node:module';
         const { readAnnotations } = await import(${JSON.stringify(entry)});
         await readAnnotations(${JSON.stringify(globs)}, ${JSON.stringify(dir)});
         const scoped = createRequire(createRequire(${JSON.stringify(entry)}).resolve('swagger-jsdoc'));
         process.stdout.write(String(Object.keys(scoped.cache).some((id) => id.includes('swagger-parser'))));`,
      ],
      { cwd: here, encoding: 'utf8' },
    );
    expect(loaded, 'swagger-parser loaded by readAnnotations').to.equal('false');

    // The stand-in was swagger-jsdoc's alone: whoever asks for swagger-parser now gets the real one.
    const scoped = createRequire(require.resolve('swagger-jsdoc'));
    const parser = scoped('@apidevtools/swagger-parser') as { validate?: unknown };
    expect(parser.validate).to.be.a('function');
  });
});
