import { constants, KeyObject, verify as verifySignature } from 'node:crypto';
import type { CryptoKey, JWTPayload } from 'jose';
import type { JwtAlgorithm } from './config.js';

/**
 * Why a token was refused, in jose's terms, so the service maps it to the same codes and messages as
 * it does jose's own errors: `expired` (exp passed), `claim` (a claim or the typ header failed its
 * check: claim name and reason as jose names them), `alg`, `signature`, `invalid` (anything else).
 */
export class JwsRefusal extends Error {
  constructor(
    readonly kind: 'expired' | 'claim' | 'alg' | 'signature' | 'invalid',
    message: string,
    readonly claim?: string,
    readonly reason?: 'missing' | 'invalid' | 'check_failed',
  ) {
    super(message);
  }
}

/** What one token type is checked against; built once per service by {@link jwsPolicy}. */
export interface JwsPolicy {
  readonly algorithm: JwtAlgorithm;
  readonly typ: string;
  readonly issuer: string;
  readonly audience: string;
  readonly clockToleranceSeconds: number;
  /** Claims that must be present, in the order jose checks them (iss, aud, then the required ones last first). */
  readonly presence: readonly string[];
}

export function jwsPolicy(
  options: Omit<JwsPolicy, 'presence'> & { readonly requiredClaims: readonly string[] },
): JwsPolicy {
  const { requiredClaims, ...rest } = options;
  return { ...rest, presence: [...new Set(['iss', 'aud', ...[...requiredClaims].reverse()])] };
}

/** The protected header fields the verifier reads. */
export interface JwsHeader {
  readonly alg?: unknown;
  readonly kid?: unknown;
  readonly typ?: unknown;
  readonly crit?: unknown;
  readonly [name: string]: unknown;
}

interface SignatureCheck {
  readonly hash: string | null;
  readonly padding?: number;
  readonly saltLength?: number;
  readonly dsaEncoding?: 'ieee-p1363';
  /** Exact signature length in bytes, when the algorithm fixes it. */
  readonly length?: number;
}

/** node:crypto's parameters per pinned algorithm (RFC 7518 §3, RFC 8037). */
const CHECKS: Readonly<Record<JwtAlgorithm, SignatureCheck>> = {
  ES256: { hash: 'sha256', dsaEncoding: 'ieee-p1363', length: 64 },
  RS256: { hash: 'sha256', padding: constants.RSA_PKCS1_PADDING },
  EdDSA: { hash: null, length: 64 },
};

/** The node:crypto KeyObject of each imported key, made once (KeyObject.from costs a copy). */
const keyObjects = new WeakMap<CryptoKey, KeyObject>();

function keyObjectOf(key: CryptoKey): KeyObject {
  let object = keyObjects.get(key);
  if (object === undefined) {
    object = KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
    keyObjects.set(key, object);
  }
  return object;
}

/** jose's decoder: bytes that are not UTF-8 are an error, not replacement characters. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJson(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    throw new JwsRefusal('invalid', `${what} is not base64url JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new JwsRefusal('invalid', `${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** RFC 7515 §4.1.9's comparison as jose does it: case-insensitive, "application/" optional. */
function normalizeTyp(value: string): string {
  const lower = value.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/**
 * RFC 7515 §4.1.11 as jose applies it: `crit` is a non-empty list of names, each understood and present in
 * the header. The one extension understood is RFC 7797's `b64`, and a JWT must keep it `true`.
 */
function checkCrit(header: JwsHeader): void {
  const crit = header.crit;
  if (!Array.isArray(crit) || crit.length === 0 || crit.some((name) => typeof name !== 'string' || name === ''))
    throw new JwsRefusal('invalid', 'token header "crit" is not a list of names');
  for (const name of crit) {
    if (name !== 'b64') throw new JwsRefusal('invalid', `token header "crit" names "${name}", which is not understood`);
    if (header[name] === undefined)
      throw new JwsRefusal('invalid', `token header "crit" names "${name}", which is absent`);
  }
  if (header.b64 !== true) throw new JwsRefusal('invalid', 'a JWT payload must be base64url-encoded (b64: true)');
}

/**
 * Verifies a compact JWS JWT synchronously with node:crypto, with the checks jose's `jwtVerify` makes for
 * the options auth-jwt gives it: the pinned algorithm only, no `crit` extension but `b64: true`, the key the header's
 * `kid` names (looked up by `keyFor`, which also refuses key references), the signature, then the `typ`
 * header and the claims (required ones present; iss, aud; exp, nbf and iat numbers, exp and nbf against
 * the clock with the tolerance). The token's shape (three non-empty base64url parts, bounded length) is
 * checked by the caller before.
 *
 * Why not jose here: jose 6 verifies through WebCrypto, a promise and a thread-pool job per token; the
 * same check on node:crypto's KeyObject costs about a third less CPU (docs/benchmarks.md). jose still
 * imports the keys and signs.
 */
export function verifyJws<K extends { readonly publicKey: CryptoKey }>(
  token: string,
  policy: JwsPolicy,
  keyFor: (header: JwsHeader) => K,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): { readonly payload: JWTPayload; readonly key: K } {
  const firstDot = token.indexOf('.');
  const lastDot = token.lastIndexOf('.');
  const header = decodeJson(token.slice(0, firstDot), 'the token header') as JwsHeader;
  if (header.alg !== policy.algorithm) throw new JwsRefusal('alg', 'token algorithm is not allowed');
  if (header.crit !== undefined) checkCrit(header);
  const key = keyFor(header);
  const check = CHECKS[policy.algorithm];
  const signature = Buffer.from(token.slice(lastDot + 1), 'base64url');
  let valid = false;
  if (check.length === undefined || signature.length === check.length) {
    try {
      valid = verifySignature(
        check.hash,
        Buffer.from(token.slice(0, lastDot), 'latin1'),
        {
          key: keyObjectOf(key.publicKey),
          ...(check.padding === undefined ? {} : { padding: check.padding }),
          ...(check.dsaEncoding === undefined ? {} : { dsaEncoding: check.dsaEncoding }),
        },
        signature,
      );
    } catch {
      valid = false;
    }
  }
  if (!valid) throw new JwsRefusal('signature', 'token signature is invalid');

  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(policy.typ))
    throw new JwsRefusal('claim', 'unexpected "typ" JWT header value', 'typ', 'check_failed');
  const payload = decodeJson(token.slice(firstDot + 1, lastDot), 'the token payload') as JWTPayload;
  for (const claim of policy.presence)
    if (!Object.hasOwn(payload, claim))
      throw new JwsRefusal('claim', `missing required "${claim}" claim`, claim, 'missing');
  if (payload.iss !== policy.issuer)
    throw new JwsRefusal('claim', 'unexpected "iss" claim value', 'iss', 'check_failed');
  const aud = payload.aud;
  if (!(aud === policy.audience || (Array.isArray(aud) && aud.includes(policy.audience))))
    throw new JwsRefusal('claim', 'unexpected "aud" claim value', 'aud', 'check_failed');
  const tolerance = policy.clockToleranceSeconds;
  if (payload.iat !== undefined && typeof payload.iat !== 'number')
    throw new JwsRefusal('claim', '"iat" claim must be a number', 'iat', 'invalid');
  if (payload.nbf !== undefined) {
    if (typeof payload.nbf !== 'number')
      throw new JwsRefusal('claim', '"nbf" claim must be a number', 'nbf', 'invalid');
    if (payload.nbf > nowSeconds + tolerance)
      throw new JwsRefusal('claim', '"nbf" claim timestamp check failed', 'nbf', 'check_failed');
  }
  if (payload.exp !== undefined) {
    if (typeof payload.exp !== 'number')
      throw new JwsRefusal('claim', '"exp" claim must be a number', 'exp', 'invalid');
    if (payload.exp <= nowSeconds - tolerance) throw new JwsRefusal('expired', '"exp" claim timestamp check failed');
  }
  return { payload, key };
}
