import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Values put in place of `{{name}}` markers in template files. */
export type Tokens = Readonly<Record<string, string>>;

const MARKER = /\{\{([A-Za-z][A-Za-z0-9]*)\}\}/g;

/** Replaces every `{{token}}` in `text`; a marker without a value is a bug in the template, reported as such. */
export function fillTokens(text: string, tokens: Tokens, where: string): string {
  return text.replace(MARKER, (_, name: string) => {
    const value = tokens[name];
    if (value === undefined)
      throw new TypeError(
        `template ${where} uses {{${name}}}, which has no value (known: ${Object.keys(tokens).join(', ')})`,
      );
    return value;
  });
}

/**
 * Copies a template folder into `destDir`, filling tokens in every file. A leading `_` in a file
 * name becomes `.` (npm would drop or rename a packed `.gitignore`). Never overwrites a file.
 * Returns the paths written, relative to `destDir`.
 */
export function copyTemplate(options: { from: string; to: string; tokens: Tokens }): string[] {
  const written: string[] = [];
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(options.from, rel), { withFileTypes: true })) {
      const srcRel = path.join(rel, entry.name);
      const destRel = path.join(rel, entry.name.startsWith('_') ? `.${entry.name.slice(1)}` : entry.name);
      if (entry.isDirectory()) {
        walk(srcRel);
        continue;
      }
      const text = fillTokens(readFileSync(path.join(options.from, srcRel), 'utf8'), options.tokens, srcRel);
      writeFile(options.to, destRel, text);
      written.push(destRel);
    }
  };
  walk('');
  return written;
}

/** Writes one file under `root`, creating folders, refusing to replace an existing file. */
export function writeFile(root: string, rel: string, text: string): void {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { flag: 'wx' });
}
