/** Words that make an option name look secret when it ends with one: `clientSecret`, `encryptionKey`, `keys`. */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'pass',
  'pwd',
  'passphrase',
  'secret',
  'token',
  'key',
  'credential',
  'apikey',
  'pem',
  'salt',
]);

/** A URL carrying a user or password (`redis://:pw@host`, `postgresql://user:pw@db/app`). */
const URL_WITH_CREDENTIALS = /[a-z][a-z0-9+.-]*:\/\/[^/\s@"]+@/i;

/** The text shown instead of a secret. */
export const SECRET_MASK = '[secret]';

/** A masked value: printed bare as `[secret]` in tables, and as the string "[secret]" in JSON. */
export class Masked {
  toJSON(): string {
    return SECRET_MASK;
  }

  toString(): string {
    return SECRET_MASK;
  }
}

const MASKED = Object.freeze(new Masked());

/** Words of an option name, lower case: `smtpUrl` → smtp, url; `client_secret` → client, secret. */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/** Whether an option name looks secret: its last word is password, secret, token, key, credential... (plural too). */
export function isSecretKey(key: string): boolean {
  const last = words(key).at(-1);
  return last !== undefined && (SECRET_WORDS.has(last) || SECRET_WORDS.has(last.replace(/s$/, '')));
}

/**
 * The value to show for the option at `path`: a {@link Masked} (`[secret]`) when a key on the path looks secret or the
 * value holds a URL with credentials (wherever it sits); booleans and numbers are never secrets
 * (`cors.credentials: true` stays visible), and a URL without credentials (`baseUrl`) is shown.
 */
export function maskValue(path: readonly string[], value: unknown): unknown {
  if (value === null || value === undefined || typeof value === 'boolean' || typeof value === 'number') return value;
  if (path.some(isSecretKey)) return MASKED;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return URL_WITH_CREDENTIALS.test(text) ? MASKED : value;
}
