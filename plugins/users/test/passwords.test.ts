import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { PasswordPolicy, SortedLines } from '../src/passwords.js';

const pluginDir = path.resolve(import.meta.dirname, '../..');
const listFile = path.join(pluginDir, 'data/common-passwords.txt');

describe('users: the common-password list', () => {
  it('is the installed zxcvbn-ts list: 8+ code points, lowercased, sorted, once each', async () => {
    // The script exits 1 when the file differs from what it would write from @zxcvbn-ts/language-common.
    const { stderr } = await promisify(execFile)(process.execPath, [
      path.join(pluginDir, 'scripts/common-passwords.mjs'),
      '--check',
    ]);
    expect(stderr).to.equal('');
    const lines = readFileSync(listFile, 'utf8').split('\n').slice(0, -1);
    expect(lines).to.have.length.above(17_000);
    for (const word of lines) {
      expect([...word].length, word).to.be.at.least(8);
      expect(word, word).to.equal(word.toLowerCase());
    }
    expect(new PasswordPolicy().commonCount).to.equal(lines.length);
  });

  it('finds every line of a sorted list and nothing else', () => {
    const words = ['abcdefgh', 'abcdefghi', 'm', 'password', 'zz'];
    const list = SortedLines.of(words.join('\n') + '\n');
    expect(list.size).to.equal(5);
    for (const w of words) expect(list.has(w), w).to.equal(true);
    for (const w of ['', 'a', 'abcdefg', 'abcdefghh', 'abcdefgh\n', 'l', 'n', 'passwor', 'passwords', 'zzz', '~'])
      expect(list.has(w), JSON.stringify(w)).to.equal(false);
    expect(SortedLines.of('').size).to.equal(0);
    expect(SortedLines.of('').has('')).to.equal(false);
    expect(SortedLines.of('only\n').has('only')).to.equal(true);
  });

  it('refuses a list out of order, with a duplicate, or without its last line feed', () => {
    expect(() => SortedLines.of('b\na\n')).to.throw(/line 2 is not after line 1/);
    expect(() => SortedLines.of('a\na\n')).to.throw(/line 2 is not after line 1/);
    expect(() => SortedLines.of('a\nb')).to.throw(/no line feed/);
  });

  it('refuses the common passwords in any case, and fails the boot without the list', () => {
    const policy = new PasswordPolicy();
    for (const password of ['password1', 'PASSWORD1', 'Qwertyuiop', '1q2w3e4r5t'])
      expect(() => policy.check(password), password)
        .to.throw()
        .with.property('code', 'GANTRY_USERS_PASSWORD_WEAK');
    expect(() => policy.check('Correct-Horse-Battery-9')).to.not.throw();

    const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-users-list-'));
    try {
      expect(() => new PasswordPolicy(pathToFileURL(path.join(dir, 'none.txt'))))
        .to.throw()
        .with.property('code', 'GANTRY_USERS_PASSWORD_LIST_MISSING');
      writeFileSync(path.join(dir, 'mine.txt'), 'correct-horse-battery-9\n');
      const mine = new PasswordPolicy(pathToFileURL(path.join(dir, 'mine.txt')));
      expect(() => mine.check('Correct-Horse-Battery-9'))
        .to.throw()
        .with.property('code', 'GANTRY_USERS_PASSWORD_WEAK');
      expect(() => mine.check('password1')).to.not.throw();
      // A list whose line ends became CRLF still matches the words, not the words plus "\r".
      writeFileSync(path.join(dir, 'crlf.txt'), 'correct-horse-battery-9\r\nzzzzzzzzzz\r\n');
      const crlf = new PasswordPolicy(pathToFileURL(path.join(dir, 'crlf.txt')));
      expect(() => crlf.check('Correct-Horse-Battery-9'))
        .to.throw()
        .with.property('code', 'GANTRY_USERS_PASSWORD_WEAK');
      expect(() => crlf.check('ZZZZZZZZZZ'))
        .to.throw()
        .with.property('code', 'GANTRY_USERS_PASSWORD_WEAK');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
