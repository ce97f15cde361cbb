import { KeyObject, sign as nodeSign } from 'node:crypto';
import { expect } from 'chai';
import {
  type CryptoKey,
  errors as joseErrors,
  generateKeyPair,
  type JWTHeaderParameters,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { JwtAlgorithm } from '../src/config.js';
import { type JwsHeader, JwsRefusal, jwsPolicy, verifyJws } from '../src/jws-verify.js';

const ISSUER = 'https://auth.test';
const AUDIENCE = 'gantry-test';
const TOLERANCE = 5;
const REQUIRED = ['exp', 'iat', 'sub', 'jti'];

interface Key {
  readonly kid: string;
  readonly publicKey: CryptoKey;
  readonly privateKey: CryptoKey;
}

/** What a verifier decided, at the level a client sees it: the error code, and the claim when one failed. */
type Outcome =
  | { readonly accepted: Record<string, unknown> }
  | { readonly refused: 'expired' | 'invalid'; claim?: string };

class UnknownKid extends Error {}

/** jose's jwtVerify with the options auth-jwt gave it before it verified on node:crypto: the reference. */
async function byJose(token: string, keys: Map<string, Key>, alg: JwtAlgorithm, typ: string): Promise<Outcome> {
  try {
    const { payload } = await jwtVerify(
      token,
      (header: JWTHeaderParameters) => {
        const key = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
        if (!key) throw new UnknownKid();
        return key.publicKey;
      },
      {
        algorithms: [alg],
        issuer: ISSUER,
        audience: AUDIENCE,
        clockTolerance: TOLERANCE,
        requiredClaims: REQUIRED,
        typ,
      },
    );
    return { accepted: payload as Record<string, unknown> };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return { refused: 'expired' };
    if (err instanceof joseErrors.JWTClaimValidationFailed) return { refused: 'invalid', claim: err.claim };
    return { refused: 'invalid' };
  }
}

function byNode(token: string, keys: Map<string, Key>, alg: JwtAlgorithm, typ: string): Outcome {
  const policy = jwsPolicy({
    algorithm: alg,
    typ,
    issuer: ISSUER,
    audience: AUDIENCE,
    clockToleranceSeconds: TOLERANCE,
    requiredClaims: REQUIRED,
  });
  try {
    const { payload } = verifyJws(token, policy, (header: JwsHeader) => {
      const key = typeof header.kid === 'string' ? keys.get(header.kid) : undefined;
      if (!key) throw new UnknownKid();
      return key;
    });
    return { accepted: payload as Record<string, unknown> };
  } catch (err) {
    if (err instanceof JwsRefusal && err.kind === 'expired') return { refused: 'expired' };
    if (err instanceof JwsRefusal && err.kind === 'claim') return { refused: 'invalid', claim: err.claim };
    if (err instanceof JwsRefusal || err instanceof UnknownKid) return { refused: 'invalid' };
    throw err; // anything else is a bug in the verifier: a client's token must never throw it
  }
}

const now = () => Math.floor(Date.now() / 1000);

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    jti: 'j-1',
    fid: 'f-1',
    iat: now() - 10,
    exp: now() + 600,
    ...overrides,
  };
  for (const [k, v] of Object.entries(base)) if (v === undefined) delete base[k];
  return base;
}

/** Signs any header and payload bytes with node:crypto (jose's signer refuses some of the headers tested). */
async function signBytes(key: Key, header: unknown, payload: Uint8Array): Promise<string> {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  const alg = (key.privateKey.algorithm as { name: string }).name;
  const signature = nodeSign(alg === 'Ed25519' ? null : 'sha256', Buffer.from(input), {
    key: KeyObject.from(key.privateKey as Parameters<typeof KeyObject.from>[0]),
    ...(alg === 'ECDSA' ? { dsaEncoding: 'ieee-p1363' as const } : {}),
  });
  return `${input}.${signature.toString('base64url')}`;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('auth-jwt: node:crypto JWS verification agrees with jose', () => {
  for (const alg of ['ES256', 'RS256', 'EdDSA'] as const) {
    describe(alg, () => {
      const keys = new Map<string, Key>();
      let key: Key;
      let other: Key; // same kid, another key pair
      const tokens: Array<[string, string]> = [];

      before(async () => {
        const pair = await generateKeyPair(alg, { extractable: true });
        key = { kid: 'k1', ...pair };
        keys.set('k1', key);
        other = { kid: 'k1', ...(await generateKeyPair(alg, { extractable: true })) };
        const sign = (k: Key, header: Record<string, unknown>, body: Record<string, unknown>) =>
          signBytes(k, { alg, kid: k.kid, typ: 'at+jwt', ...header }, new TextEncoder().encode(JSON.stringify(body)));
        const add = async (label: string, token: Promise<string> | string) => tokens.push([label, await token]);

        await add('valid', sign(key, {}, claims()));
        await add('typ application/at+jwt', sign(key, { typ: 'application/at+jwt' }, claims()));
        await add('typ AT+JWT', sign(key, { typ: 'AT+JWT' }, claims()));
        await add('typ rt+jwt', sign(key, { typ: 'rt+jwt' }, claims()));
        await add('no typ', sign(key, { typ: undefined }, claims()));
        await add('typ a number', sign(key, { typ: 7 }, claims()));
        await add('aud in an array', sign(key, {}, claims({ aud: ['x', AUDIENCE] })));
        await add('aud array without it', sign(key, {}, claims({ aud: ['x', 'y'] })));
        await add('wrong aud', sign(key, {}, claims({ aud: 'other' })));
        await add('wrong iss', sign(key, {}, claims({ iss: 'https://evil.example' })));
        await add('iss an array', sign(key, {}, claims({ iss: [ISSUER] })));
        for (const c of ['iss', 'aud', 'exp', 'iat', 'sub', 'jti'])
          await add(`no ${c}`, sign(key, {}, claims({ [c]: undefined })));
        await add('expired', sign(key, {}, claims({ exp: now() - 60 })));
        await add('exp at the tolerance edge', sign(key, {}, claims({ exp: now() - TOLERANCE })));
        await add('exp within the tolerance', sign(key, {}, claims({ exp: now() - TOLERANCE + 2 })));
        await add('exp a string', sign(key, {}, claims({ exp: String(now() + 600) })));
        await add('nbf in the future', sign(key, {}, claims({ nbf: now() + 600 })));
        await add('nbf within the tolerance', sign(key, {}, claims({ nbf: now() + TOLERANCE - 2 })));
        await add('nbf a string', sign(key, {}, claims({ nbf: 'soon' })));
        await add('iat a string', sign(key, {}, claims({ iat: 'then' })));
        await add('crit header', sign(key, { crit: ['exp'] }, claims()));
        await add('crit b64', sign(key, { crit: ['b64'], b64: true }, claims()));
        await add('crit b64 false', sign(key, { crit: ['b64'], b64: false }, claims()));
        await add('crit b64 a string', sign(key, { crit: ['b64'], b64: 'yes' }, claims()));
        await add('crit b64 absent', sign(key, { crit: ['b64'] }, claims()));
        await add('crit empty', sign(key, { crit: [] }, claims()));
        await add('crit not a list', sign(key, { crit: 'b64', b64: true }, claims()));
        await add('b64 false without crit', sign(key, { b64: false }, claims()));
        await add('unknown kid', sign(key, { kid: 'nope' }, claims()));
        await add('no kid', sign(key, { kid: undefined }, claims()));
        await add('another key, same kid', sign(other, {}, claims()));
        await add('alg none', `${b64({ alg: 'none', kid: 'k1', typ: 'at+jwt' })}.${b64(claims())}.c2ln`);
        await add(
          'header alg of another algorithm',
          `${b64({ alg: alg === 'ES256' ? 'ES384' : 'ES256', kid: 'k1', typ: 'at+jwt' })}.${b64(claims())}.c2ln`,
        );
        await add(
          'payload an array',
          signBytes(key, { alg, kid: 'k1', typ: 'at+jwt' }, new TextEncoder().encode('[1,2]')),
        );
        await add(
          'payload not JSON',
          signBytes(key, { alg, kid: 'k1', typ: 'at+jwt' }, new TextEncoder().encode('{oops')),
        );
        await add(
          'payload not UTF-8',
          signBytes(key, { alg, kid: 'k1', typ: 'at+jwt' }, Uint8Array.from([0x7b, 0xff, 0xfe, 0x7d])),
        );
        await add('header an array', signBytes(key, [1], new TextEncoder().encode(JSON.stringify(claims()))));
        // The same claims signed by jose's own signer: what auth-jwt's tokens are.
        await add(
          'signed by jose',
          new SignJWT(claims()).setProtectedHeader({ alg, kid: 'k1', typ: 'at+jwt' }).sign(key.privateKey),
        );
        // Every token above, changed one character at a time in each part.
        const valid = tokens[0]![1];
        const parts = valid.split('.');
        for (let part = 0; part < 3; part++)
          for (const at of [0, 1, Math.floor(parts[part]!.length / 2), parts[part]!.length - 1]) {
            const changed = [...parts];
            const c = changed[part]!;
            changed[part] = c.slice(0, at) + (c[at] === 'A' ? 'B' : 'A') + c.slice(at + 1);
            tokens.push([`valid with part ${part} changed at ${at}`, changed.join('.')]);
          }
        tokens.push(['signature cut short', valid.slice(0, -4)]);
      });

      it('gives the same outcome (accepted with the same claims, expired, or invalid and for which claim) on every case', async () => {
        expect(tokens.length).to.be.greaterThan(40);
        for (const [label, token] of tokens) {
          const expected = await byJose(token, keys, alg, 'at+jwt');
          expect(byNode(token, keys, alg, 'at+jwt'), label).to.deep.equal(expected);
        }
        // The baseline is accepted, so each refusal above is for its one difference.
        expect(byNode(tokens[0]![1], keys, alg, 'at+jwt')).to.have.property('accepted');
      });
    });
  }
});
