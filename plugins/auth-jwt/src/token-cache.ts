import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RingKey } from './key-ring.js';

/** One remembered verification: the claims, the key that verified them and the times re-checked on every use. */
export interface CachedVerification<P> {
  readonly payload: P;
  /** The ring key object that verified the signature: a hit counts only while the ring still holds this very object. */
  key: RingKey;
  readonly exp: number;
  readonly nbf: number | undefined;
}

/** Counters of the verified-token cache (for tests and metrics). */
export interface TokenCacheStats {
  readonly size: number;
  readonly hits: number;
  readonly misses: number;
}

/**
 * Bounded LRU of successful access-token verifications, keyed by the SHA-256 of the token: the heap
 * holds no replayable bearer token (a heap snapshot or core dump gives digests, not credentials), and
 * every key is 43 characters whatever the token's length. Only {@link TokenService} writes to it, after
 * a verification and a revocation check both succeeded; nothing a failure produced is ever stored.
 */
export class VerifiedTokenCache<P> {
  private readonly lru: LRUCache<string, CachedVerification<P>>;
  private readonly ttlMs: number;
  private hitCount = 0;
  private missCount = 0;

  constructor(options: { readonly max: number; readonly ttlMs: number }) {
    this.ttlMs = options.ttlMs;
    // No autopurge timer (nothing to leak); expired entries go when touched or pushed out by the bound.
    this.lru = new LRUCache({ max: options.max, ttl: options.ttlMs, updateAgeOnGet: false });
  }

  /** The cache key of a token: its SHA-256, base64url. */
  static keyOf(token: string): string {
    return hash('sha256', token, 'base64url');
  }

  get(key: string): CachedVerification<P> | undefined {
    const entry = this.lru.get(key);
    if (entry === undefined) this.missCount++;
    else this.hitCount++;
    return entry;
  }

  /** Remembers a verification for the configured TTL, never past `untilMs` (the token's exp plus the clock tolerance). */
  set(key: string, entry: CachedVerification<P>, nowMs: number, untilMs: number): void {
    const ttl = Math.min(this.ttlMs, untilMs - nowMs);
    if (ttl <= 0) return;
    this.lru.set(key, entry, { ttl });
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  /**
   * After a key ring change: each entry's key is mapped to its successor (the same public key in the
   * new ring), and entries whose key has none (removed, or another key under the same kid) are dropped.
   * Returns how many were dropped.
   */
  remapKeys(successor: (key: RingKey) => RingKey | undefined): number {
    const stale: string[] = [];
    for (const [key, entry] of this.lru.entries()) {
      const next = successor(entry.key);
      if (next === undefined) stale.push(key);
      else entry.key = next;
    }
    for (const key of stale) this.lru.delete(key);
    return stale.length;
  }

  clear(): void {
    this.lru.clear();
  }

  stats(): TokenCacheStats {
    return { size: this.lru.size, hits: this.hitCount, misses: this.missCount };
  }
}
