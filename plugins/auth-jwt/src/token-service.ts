import { randomUUID } from 'node:crypto';
import { GantryError, type ErrorFactory } from '@gantry/core';
import { SignJWT, type JWTPayload } from 'jose';
import type { AuthJwtConfig } from './config.js';
import { AuthJwtErrors } from './errors.js';
import { type JwsHeader, type JwsPolicy, JwsRefusal, jwsPolicy, verifyJws } from './jws-verify.js';
import type { KeyRing, RingKey } from './key-ring.js';
import { VerifiedTokenCache, type TokenCacheStats } from './token-cache.js';
import type { RevocationMirrorStats } from './revocation-mirror.js';
import type { RevocationState, TokenStore } from './token-store.js';

/** `typ` header of access tokens (RFC 9068). */
export const ACCESS_TYP = 'at+jwt';
/** `typ` header of refresh tokens: an access-token check refuses it, and the reverse. */
export const REFRESH_TYP = 'rt+jwt';

/** Claims the service sets itself; callers cannot pass them in `claims`. */
const RESERVED = new Set(['iss', 'aud', 'sub', 'exp', 'nbf', 'iat', 'jti', 'fid']);
/** Header parameters that would let a token name its own key: never honoured, always refused. */
const KEY_HEADERS = ['jku', 'jwk', 'x5u', 'x5c'] as const;
/** Three base64url parts, none empty: anything else is refused before any crypto runs. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Longer tokens are refused unparsed (headers are limited anyway; this bounds the work per request). */
const MAX_TOKEN_LENGTH = 8192;
/** The challenge sent with every 401 (RFC 6750). */
const CHALLENGE = { 'WWW-Authenticate': 'Bearer error="invalid_token"' } as const;

/** An access and a refresh token, as returned to a client after login or refresh. */
export interface TokenPair {
  readonly accessToken: string;
  readonly refreshToken: string;
  /** Lifetime of the access token in seconds. */
  readonly expiresIn: number;
  /** Lifetime of the refresh token in seconds. */
  readonly refreshExpiresIn: number;
  readonly tokenType: 'Bearer';
  /** The family (login session) id, `fid` in both tokens: the handle to list or revoke this login. Not meant for the client body. */
  readonly sessionId: string;
}

/** The verified claims of an access token. */
export interface AccessClaims extends JWTPayload {
  readonly sub: string;
  readonly jti: string;
  /** Refresh-token family (login session) the token belongs to. */
  readonly fid: string;
  readonly iat: number;
  readonly exp: number;
  readonly roles?: readonly string[];
}

/** Verified claims as {@link TokenService.verify} returns them. */
type VerifiedPayload = JWTPayload & { sub: string; jti: string; fid: string; iat: number; exp: number };

/** What {@link TokenService} needs. */
export interface TokenServiceOptions {
  readonly config: AuthJwtConfig;
  readonly store: TokenStore;
  /** The clock in epoch milliseconds, read when a cached verification is used (default `Date.now`). */
  readonly now?: () => number;
}

/**
 * Issues, verifies, rotates and revokes tokens. Access tokens are short-lived JWTs checked against
 * the store's revocations; refresh tokens belong to a family (one login) and rotate on every use:
 * presenting a used one again revokes the whole family.
 */
export class TokenService {
  private readonly config: AuthJwtConfig;
  private readonly store: TokenStore;
  private ring: KeyRing | undefined;
  private readonly now: () => number;
  /** Successful verifications of access tokens (undefined when `tokenCache.enabled` is false). */
  private readonly cache: VerifiedTokenCache<AccessClaims> | undefined;
  private readonly keyFor: (header: JwsHeader) => RingKey;
  /** What each token type is checked against, built once. */
  private readonly policies: Readonly<Record<string, JwsPolicy>>;

  constructor(options: TokenServiceOptions) {
    this.config = options.config;
    this.store = options.store;
    this.now = options.now ?? Date.now;
    const { tokenCache } = this.config;
    this.cache = tokenCache.enabled
      ? new VerifiedTokenCache({ max: tokenCache.max, ttlMs: tokenCache.ttlMs })
      : undefined;
    // Built once: called per token, after the algorithm check, before the signature check.
    this.keyFor = (header) => {
      for (const name of KEY_HEADERS)
        if (header[name] !== undefined)
          throw AuthJwtErrors.INVALID_TOKEN(`token header carries "${name}": key references in tokens are refused`, {
            headers: CHALLENGE,
          });
      const kid = header.kid;
      const key = typeof kid === 'string' ? this.keys().get(kid) : undefined;
      if (!key) throw AuthJwtErrors.INVALID_TOKEN('token is signed with an unknown key (kid)', { headers: CHALLENGE });
      return key;
    };
    const base = {
      algorithm: this.config.algorithm,
      issuer: this.config.issuer,
      audience: this.config.audience,
      clockToleranceSeconds: this.config.clockToleranceSeconds,
      requiredClaims: ['exp', 'iat', 'sub', 'jti'],
    };
    this.policies = {
      [ACCESS_TYP]: jwsPolicy({ ...base, typ: ACCESS_TYP }),
      [REFRESH_TYP]: jwsPolicy({ ...base, typ: REFRESH_TYP }),
    };
  }

  /** Issues a new login: an access token and the first refresh token of a new family. */
  async issuePair(subject: string, claims: Readonly<Record<string, unknown>> = {}): Promise<TokenPair> {
    if (typeof subject !== 'string' || subject.length === 0)
      throw AuthJwtErrors.CLAIMS_INVALID('issuePair needs a non-empty subject');
    const reserved = Object.keys(claims).filter((k) => RESERVED.has(k));
    if (reserved.length)
      throw AuthJwtErrors.CLAIMS_INVALID(
        `issuePair: claims ${reserved.join(', ')} are set by auth-jwt and cannot be passed`,
      );
    const { subjectNotBefore } = await this.store.revocation(subject, undefined, true);
    return this.mint({ sub: subject, fid: randomUUID(), claims: { ...claims }, subjectNotBefore });
  }

  /** True once a key ring is in use. */
  get started(): boolean {
    return this.ring !== undefined;
  }

  /**
   * The key ring in use. Throws until {@link useKeyRing} gave one (the plugin does in its start hook).
   */
  keys(): KeyRing {
    if (!this.ring) throw AuthJwtErrors.STORE_UNAVAILABLE('auth-jwt is not started yet');
    return this.ring;
  }

  /**
   * Puts a key ring in use (at start, and on a hot change of `keys`). Remembered verifications made
   * with a key the new ring no longer holds (removed, or replaced under the same kid) are dropped at once.
   */
  useKeyRing(ring: KeyRing): void {
    const previous = this.ring;
    this.ring = ring;
    if (previous && this.cache) {
      // Same kid and same public key: the new ring's object takes over and its entries stay valid.
      const successors = new Map<RingKey, RingKey>();
      for (const kid of previous.kids()) {
        const before = previous.get(kid)!;
        const after = ring.get(kid);
        if (after && JSON.stringify(after.jwk) === JSON.stringify(before.jwk)) successors.set(before, after);
      }
      this.cache.remapKeys((key) => successors.get(key));
    }
  }

  /** Counters of the redis store's revocation cache, or undefined when it is off (or the store is memory). */
  revocationCacheStats(): RevocationMirrorStats | undefined {
    return this.store.revocationCacheStats?.();
  }

  /** Counters of the verified-token cache, or undefined when it is disabled. */
  tokenCacheStats(): TokenCacheStats | undefined {
    return this.cache?.stats();
  }

  /**
   * Verifies an access token: signature, algorithm, kid, type, iss, aud, exp, nbf, then revocations.
   * A token verified before (token cache) skips the signature and claim parsing only: exp and nbf are
   * checked against the clock, its key must still be in the ring, and revocations are looked up, every time.
   */
  async verifyAccess(token: string): Promise<AccessClaims> {
    const cache = this.cache;
    if (cache === undefined || typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) {
      const payload = await this.verify(token, ACCESS_TYP);
      await this.checkRevoked(payload);
      return payload as AccessClaims;
    }
    const cacheKey = VerifiedTokenCache.keyOf(token);
    const hit = cache.get(cacheKey);
    if (hit !== undefined) {
      if (this.keys().get(hit.key.kid) !== hit.key) {
        // Its key left the ring: forget it and verify from scratch (which refuses the unknown kid).
        cache.delete(cacheKey);
      } else {
        const now = this.now() / 1000;
        const tolerance = this.config.clockToleranceSeconds;
        if (hit.exp <= now - tolerance) {
          cache.delete(cacheKey);
          throw AuthJwtErrors.TOKEN_EXPIRED('token has expired', { headers: CHALLENGE });
        }
        if (hit.nbf !== undefined && hit.nbf > now + tolerance)
          throw AuthJwtErrors.INVALID_TOKEN('token claim "nbf" is invalid (check_failed)', { headers: CHALLENGE });
        await this.checkRevoked(hit.payload);
        return hit.payload;
      }
    }
    const { payload, key } = await this.verifyWithKey(token, ACCESS_TYP);
    await this.checkRevoked(payload);
    // Frozen all the way down: one cached object is handed to every request presenting this token.
    const claims = deepFreeze(payload) as AccessClaims;
    // Only a success gets here; a key swapped out during the verification is not remembered.
    if (key !== undefined && this.ring?.get(key.kid) === key) {
      const nowMs = this.now();
      const untilMs = (claims.exp + this.config.clockToleranceSeconds) * 1000;
      cache.set(cacheKey, { payload: claims, key, exp: claims.exp, nbf: claims.nbf }, nowMs, untilMs);
    }
    return claims;
  }

  /** Rotates a refresh token: returns a new pair of the same family; the presented token becomes used. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const payload = await this.verify(refreshToken, REFRESH_TYP);
    // Read from the store itself: a rotation extends a session, so it must not rest on a cached "not revoked".
    const { subjectNotBefore } = await this.checkRevoked(payload, true);
    const outcome = await this.store.consumeRefresh(payload.jti);
    if (outcome === 'used') {
      // Either the legitimate client or a thief holds the newer token: nobody can tell which, so the session ends.
      await this.store.revokeFamily(payload.fid, this.config.refreshTtlSeconds);
      throw AuthJwtErrors.REFRESH_REUSED(
        'this refresh token was already used: every token of its session is now revoked',
        { headers: CHALLENGE, details: { fid: payload.fid } },
      );
    }
    if (outcome === 'unknown')
      throw AuthJwtErrors.INVALID_TOKEN('refresh token is not known to the token store', { headers: CHALLENGE });
    const { iss: _iss, aud: _aud, sub, exp: _exp, nbf: _nbf, iat: _iat, jti: _jti, fid, ...claims } = payload;
    return this.mint({ sub, fid, claims, subjectNotBefore });
  }

  /** Revokes a family (one login session): its access and refresh tokens stop working on every instance. */
  async revokeFamily(fid: string): Promise<void> {
    await this.store.revokeFamily(fid, this.config.refreshTtlSeconds);
  }

  /** Revokes every token of a subject issued up to now (e.g. "log out everywhere", password change). */
  async revokeSubject(sub: string): Promise<void> {
    await this.store.revokeSubject(sub, Math.floor(Date.now() / 1000), this.config.refreshTtlSeconds);
  }

  /** The JWKS document (public keys only), serialized. */
  jwks(): string {
    return this.keys().jwksJson;
  }

  private async mint({
    sub,
    fid,
    claims,
    subjectNotBefore,
  }: {
    sub: string;
    fid: string;
    claims: Record<string, unknown>;
    subjectNotBefore: number | undefined;
  }): Promise<TokenPair> {
    const { config } = this;
    const key = this.keys().signing;
    // iat has second granularity and revocation covers iat <= notBefore: a pair issued in the same second
    // as a revokeSubject (e.g. password change, then a fresh pair) is dated one second later so it survives.
    const now = Math.max(Math.floor(Date.now() / 1000), subjectNotBefore === undefined ? 0 : subjectNotBefore + 1);
    const refreshJti = randomUUID();
    const sign = (typ: string, ttl: number, jti: string, extra: Record<string, unknown>): Promise<string> =>
      new SignJWT({ ...extra, fid })
        .setProtectedHeader({ alg: config.algorithm, kid: key.kid, typ })
        .setIssuer(config.issuer)
        .setAudience(config.audience)
        .setSubject(sub)
        .setJti(jti)
        .setIssuedAt(now)
        .setExpirationTime(now + ttl)
        .sign(key.privateKey);
    // The refresh token carries the custom claims too, so a rotated access token keeps them without a user lookup.
    const [accessToken, refreshToken] = await Promise.all([
      sign(ACCESS_TYP, config.accessTtlSeconds, randomUUID(), claims),
      sign(REFRESH_TYP, config.refreshTtlSeconds, refreshJti, claims),
    ]);
    await this.store.addRefresh(refreshJti, config.refreshTtlSeconds);
    return {
      accessToken,
      refreshToken,
      expiresIn: config.accessTtlSeconds,
      refreshExpiresIn: config.refreshTtlSeconds,
      tokenType: 'Bearer',
      sessionId: fid,
    };
  }

  private async verify(token: string, typ: string): Promise<VerifiedPayload> {
    return (await this.verifyWithKey(token, typ)).payload;
  }

  /** Verifies a token and says which ring key checked its signature. */
  private async verifyWithKey(token: string, typ: string): Promise<{ payload: VerifiedPayload; key?: RingKey }> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token))
      throw AuthJwtErrors.INVALID_TOKEN('token is malformed', { headers: CHALLENGE });
    let payload: JWTPayload;
    let key: RingKey;
    try {
      ({ payload, key } = verifyJws(token, this.policies[typ]!, this.keyFor));
    } catch (err) {
      throw toAuthError(err);
    }
    if (typeof payload.fid !== 'string' || payload.fid.length === 0)
      throw AuthJwtErrors.INVALID_TOKEN('token has no session family (fid)', { headers: CHALLENGE });
    return { payload: payload as VerifiedPayload, key };
  }

  private async checkRevoked(
    payload: { sub: string; fid: string; iat: number },
    fresh = false,
  ): Promise<RevocationState> {
    const state = await this.store.revocation(payload.sub, payload.fid, fresh);
    if (state.familyRevoked)
      throw AuthJwtErrors.TOKEN_REVOKED('the session of this token was revoked', { headers: CHALLENGE });
    // Second granularity (iat): tokens issued in the revocation's second are revoked; mint() dates later ones after it.
    if (state.subjectNotBefore !== undefined && payload.iat <= state.subjectNotBefore)
      throw AuthJwtErrors.TOKEN_REVOKED('every token of this subject issued before the revocation is revoked', {
        headers: CHALLENGE,
      });
    return state;
  }
}

/** Freezes a claims object and every object and array in it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** Maps a verification or key-lookup failure to a 401; never a 500 for anything a client sent. */
function toAuthError(err: unknown): GantryError {
  if (GantryError.is(err)) return err;
  const make = (factory: ErrorFactory, message: string): GantryError => factory(message, { headers: CHALLENGE });
  if (!(err instanceof JwsRefusal)) return make(AuthJwtErrors.INVALID_TOKEN, 'token is invalid');
  switch (err.kind) {
    case 'expired':
      return make(AuthJwtErrors.TOKEN_EXPIRED, 'token has expired');
    case 'claim':
      return make(AuthJwtErrors.INVALID_TOKEN, `token claim "${err.claim}" is invalid (${err.reason})`);
    case 'alg':
      return make(AuthJwtErrors.INVALID_TOKEN, 'token algorithm is not allowed');
    case 'signature':
      return make(AuthJwtErrors.INVALID_TOKEN, 'token signature is invalid');
    default:
      return make(AuthJwtErrors.INVALID_TOKEN, 'token is invalid');
  }
}
