import type { SessionKind } from './api.js';

/** A session as stored. Times are epoch milliseconds. */
export interface SessionRecord {
  /**
   * Store key: the SHA-256 (base64url) of the cookie value for a cookie session, `t.<id>` for a token
   * login. The cookie value itself is never stored.
   */
  readonly ref: string;
  /** Public id: what the owner lists and revokes. */
  readonly id: string;
  readonly kind: SessionKind;
  readonly userId: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  /** Absolute end of the session. */
  readonly expiresAt: number;
  /** Token logins: how far past a touch the session lives (the refresh-token lifetime). */
  readonly ttlMs?: number;
  readonly ip?: string;
  readonly userAgent?: string;
}

/**
 * Session storage, one backend per store option. It keeps records, public id → ref pointers and a
 * per-user index; the policy (timeouts, eviction, revocation listeners) lives in the session service,
 * so both backends behave the same. Each record, with its pointer, is kept until `retainUntil(record)`
 * and then disappears by itself.
 */
export interface SessionStore {
  /** True when the store answers. */
  ping(): Promise<boolean>;
  /** Drops everything held in process (memory store); the Redis store owns no connection. */
  close(): void;
  get(ref: string): Promise<SessionRecord | undefined>;
  /** Records in the order of `refs`, undefined where gone. */
  getMany(refs: readonly string[]): Promise<(SessionRecord | undefined)[]>;
  /** The ref behind a public id. */
  refOf(id: string): Promise<string | undefined>;
  /** Stores a new record, its pointer, and adds it to its user's index. */
  create(record: SessionRecord, retainUntil: number): Promise<void>;
  /** Replaces an existing record (never re-creates a deleted one); with `retainUntil`, moves its end too. */
  update(record: SessionRecord, retainUntil?: number): Promise<void>;
  /** Deletes a record, its pointer and its index entry; true when the record still existed. */
  remove(record: SessionRecord): Promise<boolean>;
  /** Refs in a user's index, newest first (some may be gone: see {@link forget}). */
  members(userId: string): Promise<string[]>;
  /** Removes refs of gone records from a user's index. */
  forget(userId: string, refs: readonly string[]): Promise<void>;
}

/** In-process store (embedded profile, tests): one process only; its sessions die with it. */
export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, { record: SessionRecord; until: number }>();
  private readonly pointers = new Map<string, string>();
  private readonly users = new Map<string, Map<string, number>>();
  private writes = 0;

  async ping(): Promise<boolean> {
    return true;
  }

  close(): void {
    this.records.clear();
    this.pointers.clear();
    this.users.clear();
  }

  async get(ref: string): Promise<SessionRecord | undefined> {
    return this.live(ref);
  }

  async getMany(refs: readonly string[]): Promise<(SessionRecord | undefined)[]> {
    return refs.map((ref) => this.live(ref));
  }

  async refOf(id: string): Promise<string | undefined> {
    const ref = this.pointers.get(id);
    return ref !== undefined && this.live(ref) ? ref : undefined;
  }

  async create(record: SessionRecord, retainUntil: number): Promise<void> {
    this.records.set(record.ref, { record, until: retainUntil });
    this.pointers.set(record.id, record.ref);
    let index = this.users.get(record.userId);
    if (!index) this.users.set(record.userId, (index = new Map()));
    index.set(record.ref, record.createdAt);
    this.wrote();
  }

  async update(record: SessionRecord, retainUntil?: number): Promise<void> {
    const entry = this.records.get(record.ref);
    if (!entry || !this.live(record.ref)) return;
    this.records.set(record.ref, { record, until: retainUntil ?? entry.until });
  }

  async remove(record: SessionRecord): Promise<boolean> {
    const existed = this.live(record.ref) !== undefined;
    this.drop(record);
    return existed;
  }

  async members(userId: string): Promise<string[]> {
    const index = this.users.get(userId);
    if (!index) return [];
    return [...index].sort((a, b) => b[1] - a[1]).map(([ref]) => ref);
  }

  async forget(userId: string, refs: readonly string[]): Promise<void> {
    for (const ref of refs) this.unindex(userId, ref);
  }

  /** The record while it is retained; a record past its end is dropped, like a Redis key past its TTL. */
  private live(ref: string): SessionRecord | undefined {
    const entry = this.records.get(ref);
    if (!entry) return undefined;
    if (entry.until > Date.now()) return entry.record;
    this.drop(entry.record);
    return undefined;
  }

  private drop(record: SessionRecord): void {
    this.records.delete(record.ref);
    if (this.pointers.get(record.id) === record.ref) this.pointers.delete(record.id);
    this.unindex(record.userId, record.ref);
  }

  private unindex(userId: string, ref: string): void {
    const index = this.users.get(userId);
    if (!index) return;
    index.delete(ref);
    if (index.size === 0) this.users.delete(userId);
  }

  /** Sweeps ended records every 1000 writes: no timer to leak, memory stays bounded by retained sessions. */
  private wrote(): void {
    if (++this.writes % 1000 !== 0) return;
    const now = Date.now();
    for (const entry of this.records.values()) if (entry.until <= now) this.drop(entry.record);
  }
}
