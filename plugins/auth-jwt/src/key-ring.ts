import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  importPKCS8,
  importSPKI,
  type CryptoKey,
  type JWK,
} from 'jose';
import type { JwtAlgorithm, KeyOptions } from './config.js';
import { AuthJwtErrors } from './errors.js';

/** Public members of a JWK: everything else (d, p, q, dp, dq, qi, oth, k) is secret and never published. */
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const;

/** One imported key: the verification key always, the signing key when the private half was given. */
export interface RingKey {
  readonly kid: string;
  readonly publicKey: CryptoKey;
  readonly privateKey: CryptoKey | undefined;
  /** The public JWK as published in the JWKS (kid, alg and use included). */
  readonly jwk: JWK;
}

/** The JWKS document: public keys only. */
export interface JwkSet {
  readonly keys: readonly JWK[];
}

/**
 * The imported keys, built once at start: verification looks a key up by kid in a Map, it never
 * imports. The last key with a private half signs; every key verifies.
 */
export class KeyRing {
  private readonly byKid: ReadonlyMap<string, RingKey>;
  /** The key that signs new tokens. */
  readonly signing: RingKey & { readonly privateKey: CryptoKey };
  /** The JWKS document, serialized once. */
  readonly jwksJson: string;

  private constructor(keys: readonly RingKey[]) {
    this.byKid = new Map(keys.map((k) => [k.kid, k]));
    const signing = [...keys].reverse().find((k) => k.privateKey !== undefined);
    if (!signing)
      throw AuthJwtErrors.KEYS_REQUIRED('the auth-jwt key ring has no key with a privateKey: nothing can sign tokens');
    this.signing = signing as RingKey & { readonly privateKey: CryptoKey };
    this.jwksJson = JSON.stringify({ keys: keys.map((k) => k.jwk) } satisfies JwkSet);
  }

  /** The verification key of `kid`, or undefined for an unknown kid. */
  get(kid: string): RingKey | undefined {
    return this.byKid.get(kid);
  }

  /** Every key id, oldest first. */
  kids(): string[] {
    return [...this.byKid.keys()];
  }

  /** Imports the configured keys (each checked against the pinned algorithm). */
  static async load(algorithm: JwtAlgorithm, keys: readonly KeyOptions[]): Promise<KeyRing> {
    const seen = new Set<string>();
    const ring: RingKey[] = [];
    for (const key of keys) {
      if (seen.has(key.kid))
        throw AuthJwtErrors.KEY_INVALID(`auth-jwt key "${key.kid}" is listed twice: kids must be unique`);
      seen.add(key.kid);
      ring.push(await importRingKey(algorithm, key));
    }
    return new KeyRing(ring);
  }

  /** Generates one ephemeral key pair (embedded profile): its tokens die with the process. */
  static async generate(algorithm: JwtAlgorithm): Promise<KeyRing> {
    const pair = await generateKeyPair(algorithm, algorithm === 'RS256' ? { modulusLength: 2048 } : {});
    const pub = publicJwk(await exportJWK(pair.publicKey));
    const kid = `ephemeral-${(await calculateJwkThumbprint(pub)).slice(0, 16)}`;
    return new KeyRing([
      { kid, publicKey: pair.publicKey, privateKey: pair.privateKey, jwk: { ...pub, kid, alg: algorithm, use: 'sig' } },
    ]);
  }
}

async function importRingKey(algorithm: JwtAlgorithm, key: KeyOptions): Promise<RingKey> {
  // Messages name the kid only: never any key material, which may be a secret.
  const fail = (cause: unknown): never => {
    throw AuthJwtErrors.KEY_INVALID(`auth-jwt key "${key.kid}" cannot be imported as an ${algorithm} key`, {
      cause,
      details: { kid: key.kid },
    });
  };
  try {
    if (key.privateKey !== undefined) {
      const raw = parseKey(key.privateKey);
      // Imported extractable once, only to derive the public JWK; the signing key is re-imported non-extractable.
      const extractable =
        typeof raw === 'string'
          ? await importPKCS8(raw, algorithm, { extractable: true })
          : ((await importJWK(raw, algorithm, { extractable: true })) as CryptoKey);
      if (extractable.type !== 'private') fail(new TypeError('not a private key'));
      const full = await exportJWK(extractable);
      const pub = publicJwk(full);
      const privateKey = (await importJWK({ ...full, alg: algorithm }, algorithm, { extractable: false })) as CryptoKey;
      const publicKey = (await importJWK(pub, algorithm)) as CryptoKey;
      checkStrength(algorithm, pub);
      return { kid: key.kid, publicKey, privateKey, jwk: { ...pub, kid: key.kid, alg: algorithm, use: 'sig' } };
    }
    const raw = parseKey(key.publicKey!);
    const imported =
      typeof raw === 'string'
        ? await importSPKI(raw, algorithm, { extractable: true })
        : ((await importJWK(publicJwk(raw), algorithm, { extractable: true })) as CryptoKey);
    if (imported.type !== 'public') fail(new TypeError('not a public key'));
    const pub = publicJwk(await exportJWK(imported));
    checkStrength(algorithm, pub);
    return {
      kid: key.kid,
      publicKey: imported,
      privateKey: undefined,
      jwk: { ...pub, kid: key.kid, alg: algorithm, use: 'sig' },
    };
  } catch (err) {
    if (AuthJwtErrors.KEY_INVALID.is(err)) throw err;
    return fail(err);
  }
}

/** A PEM string stays a string; a JSON string or an object becomes a JWK. */
function parseKey(value: string | Record<string, unknown>): string | JWK {
  if (typeof value !== 'string') return value as JWK;
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) return JSON.parse(trimmed) as JWK;
  // PEM from an environment variable often arrives with literal "\n" sequences.
  return trimmed.replace(/\\n/g, '\n');
}

function publicJwk(jwk: JWK): JWK {
  const out: Record<string, unknown> = {};
  for (const member of PUBLIC_MEMBERS) if (jwk[member] !== undefined) out[member] = jwk[member];
  return out as JWK;
}

function checkStrength(algorithm: JwtAlgorithm, jwk: JWK): void {
  // Base64url length of the modulus: 2048 bits are 256 bytes, 342 characters.
  if (algorithm === 'RS256' && (jwk.n?.length ?? 0) < 342) throw new TypeError('RSA keys must have at least 2048 bits');
}
