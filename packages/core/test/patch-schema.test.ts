import { expect } from 'chai';
import { z } from 'zod';
import { CoreErrors, patchSchema } from '../src/index.js';

const note = z
  .object({
    title: z.string().trim().min(1).max(200).describe('Title'),
    body: z.string().max(10_000).default('').describe('Text'),
  })
  .strict();

describe('patchSchema', () => {
  it('leaves out what the body does not name, where .partial() fills in defaults', () => {
    // The reason it exists: zod 4 applies .default() inside .partial(), so a PATCH of the title emptied the body.
    expect(note.partial().parse({ title: 'x' })).to.deep.equal({ title: 'x', body: '' });
    const patch = patchSchema(note);
    expect(patch.parse({ title: 'x' })).to.deep.equal({ title: 'x' });
    expect(patch.parse({ body: 'hello' })).to.deep.equal({ body: 'hello' });
    const typed: { title?: string; body?: string } = patch.parse({ body: '' });
    expect(typed).to.deep.equal({ body: '' });
  });

  it('refuses an empty body with one issue at the root naming the fields one may send', () => {
    const result = patchSchema(note).safeParse({});
    expect(result.success).to.equal(false);
    expect(result.error!.issues).to.have.length(1);
    expect(result.error!.issues[0]).to.deep.include({
      code: 'custom',
      path: [],
      message: 'send at least one of: title, body',
    });
  });

  it('is strict: unknown keys are refused', () => {
    const loose = z.object({ name: z.string() });
    const result = patchSchema(loose).safeParse({ name: 'a', admin: true });
    expect(result.success).to.equal(false);
    expect(result.error!.issues[0]).to.deep.include({ code: 'unrecognized_keys', keys: ['admin'] });
  });

  it('keeps each field checks, transforms and descriptions', () => {
    const patch = patchSchema(note);
    expect(patch.safeParse({ title: '   ' }).success).to.equal(false);
    expect(patch.parse({ title: '  hi  ' })).to.deep.equal({ title: 'hi' });
    expect(patch.safeParse({ body: 'x'.repeat(10_001) }).success).to.equal(false);
    expect(patch.shape.body.description).to.equal('Text');
    expect(patch.shape.title.description).to.equal('Title');
  });

  it('removes defaults and prefaults wherever they hide: under nullable, before a refinement, in a transform', () => {
    const patch = patchSchema(
      z.object({
        a: z.string().default('a').nullable(),
        b: z.number().prefault(3),
        c: z
          .string()
          .default('c')
          .refine((v) => v !== 'bad', 'must not be bad'),
        d: z
          .string()
          .default('d')
          .transform((v) => v.toUpperCase()),
        e: z.string().optional().default('e'),
        keep: z.boolean(),
      }),
    );
    expect(patch.parse({ keep: true })).to.deep.equal({ keep: true });
    expect(patch.parse({ a: null, b: 4, c: 'ok', d: 'x', e: 'y' })).to.deep.equal({
      a: null,
      b: 4,
      c: 'ok',
      d: 'X',
      e: 'y',
    });
    const bad = patch.safeParse({ c: 'bad' });
    expect(bad.success).to.equal(false);
    expect(bad.error!.issues[0]).to.deep.include({ path: ['c'], message: 'must not be bad' });
  });

  it('counts an explicit null as a change, and leaves the source schema as it was', () => {
    const source = z.object({ nick: z.string().nullable().default(null), age: z.number().default(1) });
    expect(patchSchema(source).parse({ nick: null })).to.deep.equal({ nick: null });
    expect(source.parse({})).to.deep.equal({ nick: null, age: 1 });
  });

  it('refuses, when built, an object with refinements of its own and a default it cannot reach', () => {
    const refined = z.object({ from: z.number(), to: z.number() }).refine((v) => v.from <= v.to);
    expect(() => patchSchema(refined as unknown as z.ZodObject<{ from: z.ZodNumber; to: z.ZodNumber }>))
      .to.throw()
      .that.satisfies((err: unknown) => CoreErrors.PATCH_SCHEMA_INVALID.is(err));
    const hidden = z.object({ v: z.union([z.string().default('x'), z.number()]) });
    expect(() => patchSchema(hidden)).to.throw(/field "v" still supplies a value/);
  });
});
