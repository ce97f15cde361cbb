import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MfaErrors } from './errors.js';
import { parseKey } from './secret-box.js';

/** Where the embedded profile keeps its generated key, relative to the app folder. */
export const KEY_FILE = path.join('var', 'mfa.key');

/** The key read from `file`, or a new random one written there first (mode 0600) when the file does not exist. */
export async function loadOrCreateKey(file: string): Promise<{ readonly key: Buffer; readonly created: boolean }> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
    const key = randomBytes(32);
    try {
      // 'wx': never overwrite a key another instance wrote meanwhile (secrets sealed with it would be lost).
      await writeFile(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      // The mode given to writeFile is filtered by the umask: set it exactly.
      await chmod(file, 0o600);
      return { key, created: true };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return { key: parseKey(await readFile(file, 'utf8'), file), created: false };
  } catch (err) {
    if (MfaErrors.KEY_INVALID.is(err)) throw err;
    throw MfaErrors.KEY_INVALID(`mfa: cannot read or create the key file ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
