// Writes data/common-passwords.txt: zxcvbn-ts's breach-derived common-password list
// (@zxcvbn-ts/language-common, MIT), the entries of at least 8 code points, lowercased, without
// duplicates, sorted by UTF-16 code unit, one per line. The password policy reads this file on its
// first check; test/passwords.test.ts fails when it no longer matches the installed list.
//
//   node plugins/users/scripts/common-passwords.mjs            # rewrite the file
//   node plugins/users/scripts/common-passwords.mjs --check    # exit 1 if it is out of date
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const file = new URL('../data/common-passwords.txt', import.meta.url);

/** The file's text from the installed list. */
export function commonPasswordsText() {
  const { dictionary } = require('@zxcvbn-ts/language-common');
  const words = new Set();
  for (const word of dictionary['passwords-common']) {
    if ([...word].length < 8) continue;
    if (/[\r\n]/.test(word)) throw new Error(`a common password holds a line break: ${JSON.stringify(word)}`);
    words.add(word.toLowerCase());
  }
  return [...words].sort().join('\n') + '\n';
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = commonPasswordsText();
  if (process.argv.includes('--check')) {
    if (readFileSync(file, 'utf8') !== text) {
      process.stderr.write(
        'data/common-passwords.txt is out of date: run node plugins/users/scripts/common-passwords.mjs\n',
      );
      process.exit(1);
    }
  } else {
    writeFileSync(file, text);
    process.stdout.write(`data/common-passwords.txt: ${text.split('\n').length - 1} passwords, ${text.length} bytes\n`);
  }
}
