/** What consuming a refresh token found: it was active (now used), already used, or never known (or expired). */
export type ConsumeOutcome = 'active' | 'used' | 'unknown';

import type { RevocationMirrorStats } from './revocation-mirror.js';

/** Revocation state relevant to one token, read in one round trip. */
export interface RevocationState {
  readonly familyRevoked: boolean;
  /** Epoch seconds: tokens of the subject issued at or before it are revoked. */
  readonly subjectNotBefore: number | undefined;
}

/**
 * Server-side token state: refresh tokens (active or used), revoked families and per-subject
 * "not before" times. Every write carries a TTL (the refresh lifetime): state outlives every token it concerns, then goes.
 */
export interface TokenStore {
  /** Called by the plugin's start hook, once the connections it uses are open. */
  open?(): Promise<void>;
  /** Called by the plugin's stop hook. */
  close(): Promise<void>;
  /** True when the store answers. */
  ping(): Promise<boolean>;
  /** Records a new refresh token as active. */
  addRefresh(jti: string, ttlSeconds: number): Promise<void>;
  /** Atomically marks an active refresh token used and says what it was. */
  consumeRefresh(jti: string): Promise<ConsumeOutcome>;
  revokeFamily(fid: string, ttlSeconds: number): Promise<void>;
  revokeSubject(sub: string, notBefore: number, ttlSeconds: number): Promise<void>;
  /**
   * The revocations concerning a token. `fresh`: read from the store itself, never from a cache of it
   * (before issuing or rotating tokens); otherwise a store may answer from what Redis keeps it told of.
   */
  revocation(sub: string, fid: string | undefined, fresh?: boolean): Promise<RevocationState>;
  /** Counters of a store's revocation cache (the redis store's, when on). */
  revocationCacheStats?(): RevocationMirrorStats | undefined;
}

/** In-process store (embedded profile, tests): one process only; its state dies with it. */
export class MemoryTokenStore implements TokenStore {
  private readonly refresh = new Map<string, { state: 'active' | 'used'; expiresAt: number }>();
  private readonly families = new Map<string, number>();
  private readonly subjects = new Map<string, { notBefore: number; expiresAt: number }>();
  private writes = 0;

  async close(): Promise<void> {
    this.refresh.clear();
    this.families.clear();
    this.subjects.clear();
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async addRefresh(jti: string, ttlSeconds: number): Promise<void> {
    this.refresh.set(jti, { state: 'active', expiresAt: Date.now() + ttlSeconds * 1000 });
    this.wrote();
  }

  async consumeRefresh(jti: string): Promise<ConsumeOutcome> {
    const entry = this.refresh.get(jti);
    if (!entry || entry.expiresAt <= Date.now()) return 'unknown';
    const was = entry.state;
    entry.state = 'used';
    return was;
  }

  async revokeFamily(fid: string, ttlSeconds: number): Promise<void> {
    this.families.set(fid, Date.now() + ttlSeconds * 1000);
    this.wrote();
  }

  async revokeSubject(sub: string, notBefore: number, ttlSeconds: number): Promise<void> {
    const current = this.subjects.get(sub);
    this.subjects.set(sub, {
      notBefore: Math.max(notBefore, current?.notBefore ?? 0),
      expiresAt: Date.now() + ttlSeconds * 1000,
    });
    this.wrote();
  }

  async revocation(sub: string, fid: string | undefined): Promise<RevocationState> {
    const now = Date.now();
    const family = fid === undefined ? undefined : this.families.get(fid);
    const subject = this.subjects.get(sub);
    return {
      familyRevoked: family !== undefined && family > now,
      subjectNotBefore: subject && subject.expiresAt > now ? subject.notBefore : undefined,
    };
  }

  /** Sweeps expired entries every 1000 writes: no timer to leak, memory stays bounded by live tokens. */
  private wrote(): void {
    if (++this.writes % 1000 !== 0) return;
    const now = Date.now();
    for (const [k, v] of this.refresh) if (v.expiresAt <= now) this.refresh.delete(k);
    for (const [k, v] of this.families) if (v <= now) this.families.delete(k);
    for (const [k, v] of this.subjects) if (v.expiresAt <= now) this.subjects.delete(k);
  }
}
