import { expect } from 'chai';
import { findUnsafeStrings, hasUnsafeStrings, line, text } from '../src/index.js';

describe('core: text schemas and unsafe strings', () => {
  it('line() refuses every control character, tab and line breaks included, and lone surrogates', () => {
    const title = line({ min: 1, max: 20, trim: true });
    expect(title.parse('  hello  ')).to.equal('hello');
    expect(title.parse('Grüße 😀')).to.equal('Grüße 😀');
    for (const bad of [
      'a\u0000b',
      'a\tb',
      'a\nb',
      'a\u007fb',
      'a\u0085b',
      'a\u2028b',
      'a\ud800b',
      'x'.repeat(21),
      '   ',
    ]) {
      expect(title.safeParse(bad).success, JSON.stringify(bad)).to.equal(false);
    }
  });

  it('text() allows tab, LF and CR but no other control character', () => {
    const body = text({ max: 100 });
    expect(body.parse('line 1\r\n\tline 2')).to.equal('line 1\r\n\tline 2');
    for (const bad of ['a\u0000', 'a\u0008', 'a\u000b', 'a\u001b[31m', 'a\u009b', '\udfff']) {
      expect(body.safeParse(bad).success, JSON.stringify(bad)).to.equal(false);
    }
    expect(body.safeParse('').success).to.equal(true);
  });

  it('findUnsafeStrings() reports NUL and ill-formed strings by path, keys escaped, up to a limit', () => {
    const found = findUnsafeStrings({
      a: 'ok',
      b: ['x', 'y\u0000'],
      c: { d: '\ud83d' },
      ['k\u0000']: 1,
      n: 5,
      z: null,
    });
    expect(found).to.deep.equal([
      { field: 'b.1', reason: 'nul' },
      { field: 'c.d', reason: 'ill-formed' },
      { field: 'k\\u0000', reason: 'nul' },
    ]);
    expect(findUnsafeStrings('\u0000')).to.deep.equal([{ field: '(root)', reason: 'nul' }]);
    expect(findUnsafeStrings({ ok: ['a', { b: 'c' }] })).to.deep.equal([]);
    expect(
      findUnsafeStrings(
        Array.from({ length: 50 }, () => '\u0000'),
        3,
      ),
    ).to.have.length(3);
  });

  it('hasUnsafeStrings() answers whether findUnsafeStrings() finds anything, at any depth, keys included', () => {
    const inherited = Object.create({ bad: '\u0000' }) as Record<string, unknown>;
    inherited.own = 'ok';
    const deep: Record<string, unknown> = { leaf: 'x\udc00' };
    let nested: unknown = deep;
    for (let i = 0; i < 20; i++) nested = { n: [nested] };
    const cases: unknown[] = [
      undefined,
      null,
      5,
      true,
      '',
      'plain',
      '\u0000',
      'a\ud800b',
      '\ud83d\ude00',
      {},
      [],
      { a: 'ok', b: ['x', 'y'] },
      { a: 'ok', b: ['x', 'y\u0000'] },
      { ['k\u0000']: 1 },
      { ['\ud800']: 'v' },
      [[['\u0000']]],
      Object.assign(Object.create(null) as object, { q: 'v' }),
      Object.assign(Object.create(null) as object, { q: ['v', '\u0000'] }),
      inherited,
      nested,
    ];
    for (const value of cases)
      expect(hasUnsafeStrings(value), JSON.stringify(value)).to.equal(findUnsafeStrings(value).length > 0);
    expect(hasUnsafeStrings(nested)).to.equal(true);
    expect(hasUnsafeStrings(inherited)).to.equal(false);
  });
});
