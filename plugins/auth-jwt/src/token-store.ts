import type { Logger } from '@gantry/core';
import { Redis } from 'ioredis';
import { AuthJwtErrors } from './errors.js';

/** What consuming a refresh token found: it was active (now used), already used, or never known (or expired). */
export type ConsumeOutcome = 'active' | 'used' | 'unknown';

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
  open(): Promise<void>;
  close(): Promise<void>;
  /** True when the store answers. */
  ping(): Promise<boolean>;
  /** Records a new refresh token as active. */
  addRefresh(jti: string, ttlSeconds: number): Promise<void>;
  /** Atomically marks an active refresh token used and says what it was. */
  consumeRefresh(jti: string): Promise<ConsumeOutcome>;
  revokeFamily(fid: string, ttlSeconds: number): Promise<void>;
  revokeSubject(sub: string, notBefore: number, ttlSeconds: number): Promise<void>;
  revocation(sub: string, fid: string | undefined): Promise<RevocationState>;
}

/** In-process store (embedded profile, tests): one process only; its state dies with it. */
export class MemoryTokenStore implements TokenStore {
  private readonly refresh = new Map<string, { state: 'active' | 'used'; expiresAt: number }>();
  private readonly families = new Map<string, number>();
  private readonly subjects = new Map<string, { notBefore: number; expiresAt: number }>();
  private writes = 0;

  async open(): Promise<void> {}

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
    this.subjects.set(sub, { notBefore: Math.max(notBefore, current?.notBefore ?? 0), expiresAt: Date.now() + ttlSeconds * 1000 });
    this.wrote();
  }

  async revocation(sub: string, fid: string | undefined): Promise<RevocationState> {
    const now = Date.now();
    const family = fid === undefined ? undefined : this.families.get(fid);
    const subject = this.subjects.get(sub);
    return { familyRevoked: family !== undefined && family > now, subjectNotBefore: subject && subject.expiresAt > now ? subject.notBefore : undefined };
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

/** Marks an active refresh token used, keeping its TTL; returns what it was. One round trip, atomic. */
const CONSUME = `local v = redis.call('GET', KEYS[1])
if not v then return 'unknown' end
if v == 'active' then redis.call('SET', KEYS[1], 'used', 'KEEPTTL') end
return v`;

/** What {@link RedisTokenStore} needs. */
export interface RedisTokenStoreOptions {
  readonly url: string;
  readonly prefix: string;
  readonly commandTimeoutMs: number;
  readonly logger: Logger;
}

/** Store shared by every instance through Redis: a refresh rotated on one instance is seen as used on all. */
export class RedisTokenStore implements TokenStore {
  private client: Redis | undefined;
  private closing = false;
  private failing = false;

  constructor(private readonly options: RedisTokenStoreOptions) {}

  /** Connects; an unreachable Redis does not fail the boot: readiness reports it and ioredis keeps retrying. */
  async open(): Promise<void> {
    this.closing = false;
    const client = new Redis(this.options.url, {
      lazyConnect: true,
      // Commands fail at once while disconnected: a request must not hang waiting for a reconnect.
      enableOfflineQueue: false,
      commandTimeout: this.options.commandTimeoutMs,
      connectTimeout: 3_000,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => Math.min(attempt * 50, 2_000),
    });
    // Without an 'error' listener ioredis prints every failed reconnect to stderr.
    client.on('error', (err: NodeJS.ErrnoException) => this.failed(err));
    client.on('ready', () => {
      if (this.failing) this.options.logger.info('auth-jwt store available again: Redis answers');
      this.failing = false;
    });
    this.client = client;
    try {
      await client.connect();
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.closing = true;
    this.client = undefined;
    if (client.status === 'ready') {
      try {
        await client.quit();
        return;
      } catch {
        // The connection dropped during QUIT: disconnect below stops the reconnect loop.
      }
    }
    client.disconnect();
  }

  async ping(): Promise<boolean> {
    try {
      await this.run((c) => c.ping());
      return true;
    } catch {
      return false;
    }
  }

  async addRefresh(jti: string, ttlSeconds: number): Promise<void> {
    await this.run((c) => c.set(`${this.options.prefix}rt:${jti}`, 'active', 'EX', ttlSeconds));
  }

  async consumeRefresh(jti: string): Promise<ConsumeOutcome> {
    const out = await this.run((c) => c.eval(CONSUME, 1, `${this.options.prefix}rt:${jti}`));
    return out === 'active' || out === 'used' ? out : 'unknown';
  }

  async revokeFamily(fid: string, ttlSeconds: number): Promise<void> {
    await this.run((c) => c.set(`${this.options.prefix}fam:${fid}`, '1', 'EX', ttlSeconds));
  }

  async revokeSubject(sub: string, notBefore: number, ttlSeconds: number): Promise<void> {
    // Only ever moves forward: a late, older revocation must not un-revoke tokens.
    const key = `${this.options.prefix}sub:${sub}`;
    await this.run((c) =>
      c.eval(
        `local v = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = tonumber(ARGV[1])
if n > v then v = n end
redis.call('SET', KEYS[1], tostring(v), 'EX', ARGV[2])
return v`,
        1,
        key,
        String(notBefore),
        String(ttlSeconds),
      ),
    );
  }

  async revocation(sub: string, fid: string | undefined): Promise<RevocationState> {
    const p = this.options.prefix;
    const [family, subject] = await this.run((c) => c.mget(fid === undefined ? `${p}fam:` : `${p}fam:${fid}`, `${p}sub:${sub}`));
    return { familyRevoked: fid !== undefined && family === '1', subjectNotBefore: subject == null ? undefined : Number(subject) };
  }

  private async run<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    const client = this.client;
    if (!client) throw AuthJwtErrors.STORE_UNAVAILABLE('the auth-jwt Redis client is not started (or already stopped)');
    try {
      return await command(client);
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
      throw AuthJwtErrors.STORE_UNAVAILABLE('the auth-jwt token store (Redis) did not answer', { cause: err, headers: { 'Retry-After': '1' } });
    }
  }

  private failed(err: NodeJS.ErrnoException | undefined): void {
    if (this.closing || this.failing) return;
    this.failing = true;
    // The code only, never the message: it may name hosts.
    this.options.logger.warn({ code: err?.code ?? 'REDIS_ERROR' }, 'auth-jwt store unavailable: Redis cannot be reached; authenticated requests answer 503 until it is back');
  }
}
