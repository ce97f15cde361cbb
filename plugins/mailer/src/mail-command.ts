import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Writes one line of a command's output. */
export type Print = (line: string) => void;

/**
 * `mail:last [n]`: prints the n newest `.eml` files of the file transport (default 1), decoded (headers
 * that matter and the plain-text part), oldest of them first. Exit code 1 when there is none.
 */
export async function lastMailCommand(dir: string, args: readonly string[], print: Print): Promise<number> {
  const count = args[0] === undefined ? 1 : Number(args[0]);
  if (!Number.isInteger(count) || count < 1 || count > 100) {
    print(`usage: mail:last [n]   (n: how many of the newest mails, 1 to 100; got ${JSON.stringify(args[0])})`);
    return 2;
  }
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.eml')).sort();
  } catch {
    names = [];
  }
  if (names.length === 0) {
    print(`no mail in ${dir}`);
    return 1;
  }
  // Loaded here, not at import: mailparser (and its MIME stack) is needed only by this command, never by a running app.
  const { simpleParser } = await import('mailparser');
  // File names start with the sending time (ISO), so name order is sending order.
  for (const name of names.slice(-count)) {
    const mail = await simpleParser(await readFile(path.join(dir, name)));
    print(`--- ${name}`);
    print(`From: ${mail.from?.text ?? ''}`);
    print(
      `To: ${[mail.to ?? []]
        .flat()
        .map((a) => a.text)
        .join(', ')}`,
    );
    print(`Subject: ${mail.subject ?? ''}`);
    print(`Date: ${mail.date?.toISOString() ?? ''}`);
    print('');
    print((mail.text ?? '').trimEnd());
  }
  return 0;
}
