import type { KeyWatch } from '@gantry/plugin-redis';

/** One value read from Redis (`null`: no such key) and when it stops being used. */
interface Entry {
  readonly value: string | null;
  readonly expiresAt: number;
}

/** Counters of the revocation mirror (for tests and docs). */
export interface RevocationMirrorStats {
  readonly size: number;
  readonly hits: number;
  readonly misses: number;
  /** True while Redis pushes the changes of the revocation keys (without it nothing is kept). */
  readonly live: boolean;
}

/**
 * The revocation keys (`<prefix>fam:<fid>`, `<prefix>sub:<sub>`) last read from Redis, kept in memory only
 * while a {@link KeyWatch} has Redis push every change of them (`CLIENT TRACKING`, broadcasting mode):
 * another instance's revocation removes the kept value as soon as its invalidation arrives, this
 * instance's own at once. A read is kept only if the watch was live when it was sent and nothing was
 * invalidated before its reply came (the reply may predate a change whose invalidation overtook it on
 * the watch's connection); losing the watch's connection forgets everything. Each value is used at most
 * `ttlMs` before Redis is read again, which bounds how late a revocation can be seen should the watch's
 * connection fail without the socket noticing. Bounded to `max` keys, the oldest dropped first.
 */
export class RevocationMirror {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by every invalidation: a read that saw it move while in flight is not kept. */
  private changes = 0;
  private watch: KeyWatch | undefined;
  private hitCount = 0;
  private missCount = 0;
  /** Writers waiting for Redis to push the change of a key they wrote. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly options: { readonly max: number; readonly ttlMs: number }) {}

  /** The watch that keeps this mirror true (set at start, cleared at stop). */
  attach(watch: KeyWatch | undefined): void {
    this.watch = watch;
    this.pushed(null);
  }

  /** Forgets keys (all on `null`): after this instance's own revocations, and for every push. */
  invalidate(keys: readonly string[] | null): void {
    this.changes++;
    if (keys === null) this.entries.clear();
    else for (const key of keys) this.entries.delete(key);
  }

  /** The watch's listener: what Redis pushed is forgotten, and writers waiting for it are released. */
  readonly pushed = (keys: readonly string[] | null): void => {
    this.invalidate(keys);
    if (this.waiters.size === 0) return;
    if (keys === null) {
      for (const set of [...this.waiters.values()]) for (const release of [...set]) release();
    } else {
      for (const key of keys) for (const release of [...(this.waiters.get(key) ?? [])]) release();
    }
  };

  /**
   * Called before writing `key`: settles once Redis has pushed a change of it (to every instance's watch,
   * this one's included), everything was forgotten, or `timeoutMs` passed. Undefined while the watch is
   * not live (nothing to wait for).
   */
  changeOf(key: string, timeoutMs: number): Promise<void> | undefined {
    if (this.watch?.live !== true) return undefined;
    return new Promise<void>((resolve) => {
      let set = this.waiters.get(key);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(key, set);
      }
      const own = set;
      const release = (): void => {
        clearTimeout(timer);
        own.delete(release);
        if (own.size === 0 && this.waiters.get(key) === own) this.waiters.delete(key);
        resolve();
      };
      const timer = setTimeout(release, timeoutMs);
      timer.unref();
      own.add(release);
    });
  }

  /** The kept value of `key` (`null`: absent in Redis) while fresh and the watch live; `undefined` otherwise. */
  get(key: string, now: number): string | null | undefined {
    if (this.watch?.live !== true) return undefined;
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > now) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Counts a lookup answered from memory (`hit`) or sent to Redis. */
  count(hit: boolean): void {
    if (hit) this.hitCount++;
    else this.missCount++;
  }

  /** Taken before a read: what {@link keep} needs to tell whether the reply may be kept (-1: it may not). */
  ticket(): number {
    return this.watch?.live === true ? this.changes : -1;
  }

  /** Keeps the values of one read, if nothing was invalidated since its {@link ticket}. */
  keep(ticket: number, keys: readonly string[], values: readonly (string | null)[], now: number): void {
    if (ticket < 0 || ticket !== this.changes || this.watch?.live !== true) return;
    const expiresAt = now + this.options.ttlMs;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      // Re-inserted at the end: the oldest read goes first when the bound is reached.
      this.entries.delete(key);
      while (this.entries.size >= this.options.max) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { value: values[i] ?? null, expiresAt });
    }
  }

  stats(): RevocationMirrorStats {
    return { size: this.entries.size, hits: this.hitCount, misses: this.missCount, live: this.watch?.live === true };
  }
}
