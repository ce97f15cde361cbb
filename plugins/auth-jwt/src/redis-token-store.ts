import type { KeyWatch, RedisConnection } from '@gantry/plugin-redis';
import { AuthJwtErrors } from './errors.js';
import { RevocationMirror, type RevocationMirrorStats } from './revocation-mirror.js';
import type { ConsumeOutcome, RevocationState, TokenStore } from './token-store.js';

/** Marks an active refresh token used, keeping its TTL; returns what it was. One round trip, atomic. */
const CONSUME = `local v = redis.call('GET', KEYS[1])
if not v then return 'unknown' end
if v == 'active' then redis.call('SET', KEYS[1], 'used', 'KEEPTTL') end
return v`;

/** Moves a subject's "not before" forward only: a late, older revocation must not un-revoke tokens. */
const REVOKE_SUBJECT = `local v = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if n > v then v = n end
redis.call('SET', KEYS[1], tostring(v), 'EX', ARGV[2])
return v`;

/** The ioredis client the shared connection runs commands with. */
type RedisClient = ReturnType<RedisConnection['client']>;

/** What {@link RedisTokenStore} needs. */
export interface RedisTokenStoreOptions {
  /** The kernel's shared connection (token `RedisToken` of the redis plugin). */
  readonly connection: RedisConnection;
  readonly prefix: string;
  /** Keep revocation lookups in memory while Redis pushes their changes ({@link RevocationMirror}); absent: read Redis every time. */
  readonly revocationCache?: { readonly max: number; readonly ttlMs: number };
}

/**
 * Store shared by every instance through Redis: a refresh rotated on one instance is seen as used on all.
 * It has no connection of its own: the redis plugin opens, watches (one log line per outage) and closes
 * the kernel's one connection; this store only sends commands through it.
 */
export class RedisTokenStore implements TokenStore {
  private readonly connection: RedisConnection;
  private readonly prefix: string;
  private readonly mirror: RevocationMirror | undefined;
  private watch: KeyWatch | undefined;

  constructor(options: RedisTokenStoreOptions) {
    this.connection = options.connection;
    this.prefix = options.prefix;
    this.mirror = options.revocationCache && new RevocationMirror(options.revocationCache);
  }

  /** With the revocation cache: has Redis push the changes of the revocation keys (a connection of the watch's own). */
  async open(): Promise<void> {
    if (!this.mirror || this.watch) return;
    this.watch = await this.connection.watchKeys([`${this.prefix}fam:`, `${this.prefix}sub:`], this.mirror.pushed);
    this.mirror.attach(this.watch);
  }

  async close(): Promise<void> {
    // The shared connection belongs to the redis plugin, which closes it after this plugin stopped.
    const watch = this.watch;
    this.watch = undefined;
    this.mirror?.attach(undefined);
    await watch?.close();
  }

  /** The revocation cache's counters; undefined when it is off. */
  revocationCacheStats(): RevocationMirrorStats | undefined {
    return this.mirror?.stats();
  }

  async ping(): Promise<boolean> {
    return (await this.connection.ping()).ok;
  }

  async addRefresh(jti: string, ttlSeconds: number): Promise<void> {
    await this.run((c) => c.set(`${this.prefix}rt:${jti}`, 'active', 'EX', ttlSeconds));
  }

  async consumeRefresh(jti: string): Promise<ConsumeOutcome> {
    const out = await this.run((c) => c.eval(CONSUME, 1, `${this.prefix}rt:${jti}`));
    return out === 'active' || out === 'used' ? out : 'unknown';
  }

  async revokeFamily(fid: string, ttlSeconds: number): Promise<void> {
    const key = `${this.prefix}fam:${fid}`;
    await this.revoke(key, (c) => c.set(key, '1', 'EX', ttlSeconds));
  }

  async revokeSubject(sub: string, notBefore: number, ttlSeconds: number): Promise<void> {
    const key = `${this.prefix}sub:${sub}`;
    await this.revoke(key, (c) => c.eval(REVOKE_SUBJECT, 1, key, String(notBefore), String(ttlSeconds)));
  }

  /**
   * Writes a revocation key. With the revocation cache, this instance forgets the key as soon as Redis
   * acknowledged the write (its invalidation may come after the reply), and a read in flight is not
   * kept; after a failed write the key's state is unknown: forgotten too. The call then returns only
   * once Redis has pushed the change to this instance's watch (bounded by the command timeout): Redis
   * sends it to every instance's watch in the same pass of its event loop, so by then every other
   * instance has been sent it, before the caller can answer anyone. Two turns of the event loop follow,
   * for the watches of other kernels in this process to read what Redis wrote to them alongside.
   */
  private async revoke(key: string, write: (client: RedisClient) => Promise<unknown>): Promise<void> {
    const pushed = this.mirror?.changeOf(key, this.connection.commandTimeoutMs);
    try {
      await this.run(write);
    } finally {
      this.mirror?.invalidate([key]);
    }
    if (pushed === undefined) return;
    await pushed;
    await nextTurn();
    await nextTurn();
  }

  async revocation(sub: string, fid: string | undefined, fresh = false): Promise<RevocationState> {
    const familyKey = fid === undefined ? `${this.prefix}fam:` : `${this.prefix}fam:${fid}`;
    const subjectKey = `${this.prefix}sub:${sub}`;
    const mirror = this.mirror;
    let ticket = -1;
    if (mirror !== undefined && !fresh) {
      const now = Date.now();
      const family = mirror.get(familyKey, now);
      const subject = family === undefined ? undefined : mirror.get(subjectKey, now);
      mirror.count(subject !== undefined);
      if (subject !== undefined) return revocationState(fid, family!, subject);
      ticket = mirror.ticket();
    }
    const [family, subject] = await this.run((c) => c.mget(familyKey, subjectKey));
    if (ticket >= 0) mirror!.keep(ticket, [familyKey, subjectKey], [family ?? null, subject ?? null], Date.now());
    return revocationState(fid, family ?? null, subject ?? null);
  }

  /** Any Redis failure (GANTRY_REDIS_UNAVAILABLE) is this plugin's 503, which clients and docs know. */
  private async run<T>(command: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      return await this.connection.run(command);
    } catch (err) {
      throw AuthJwtErrors.STORE_UNAVAILABLE('the auth-jwt token store (Redis) cannot be used right now', {
        cause: err,
        headers: { 'Retry-After': '1' },
      });
    }
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function revocationState(fid: string | undefined, family: string | null, subject: string | null): RevocationState {
  return {
    familyRevoked: fid !== undefined && family === '1',
    subjectNotBefore: subject === null ? undefined : Number(subject),
  };
}
