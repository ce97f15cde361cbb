import type { RedisConnection } from '@gantry/plugin-redis';
import { AuthJwtErrors } from './errors.js';
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
}

/**
 * Store shared by every instance through Redis: a refresh rotated on one instance is seen as used on all.
 * It has no connection of its own: the redis plugin opens, watches (one log line per outage) and closes
 * the kernel's one connection; this store only sends commands through it.
 */
export class RedisTokenStore implements TokenStore {
  private readonly connection: RedisConnection;
  private readonly prefix: string;

  constructor(options: RedisTokenStoreOptions) {
    this.connection = options.connection;
    this.prefix = options.prefix;
  }

  async close(): Promise<void> {
    // The connection belongs to the redis plugin, which closes it after this plugin stopped.
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
    await this.run((c) => c.set(`${this.prefix}fam:${fid}`, '1', 'EX', ttlSeconds));
  }

  async revokeSubject(sub: string, notBefore: number, ttlSeconds: number): Promise<void> {
    await this.run((c) => c.eval(REVOKE_SUBJECT, 1, `${this.prefix}sub:${sub}`, String(notBefore), String(ttlSeconds)));
  }

  async revocation(sub: string, fid: string | undefined): Promise<RevocationState> {
    const p = this.prefix;
    const [family, subject] = await this.run((c) =>
      c.mget(fid === undefined ? `${p}fam:` : `${p}fam:${fid}`, `${p}sub:${sub}`),
    );
    return {
      familyRevoked: fid !== undefined && family === '1',
      subjectNotBefore: subject == null ? undefined : Number(subject),
    };
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
