import { expect } from 'chai';
import { findUnsafeStrings, line, text } from '../src/index.js';

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
});
