import { GantryError } from '@gantry/core';
import type { RedisConnection } from '@gantry/plugin-redis';
import { SessionsErrors } from './errors.js';
import type { SessionRecord, SessionStore } from './session-store.js';

/** The ioredis client and transaction types, as the redis plugin hands them out (ioredis is its dependency, not ours). */
type Redis = Parameters<Parameters<RedisConnection['run']>[0]>[0];
type ChainableCommander = ReturnType<Redis['multi']>;

/**
 * Sessions in Redis, shared by every instance, through the redis plugin's connection:
 * `<prefix>s:<ref>` holds the record (JSON), `<prefix>id:<id>` the ref behind a public id, both expiring
 * at the record's end (PXAT); `<prefix>u:<user>` is a sorted set of the user's refs scored by creation
 * time, expiring with its last session.
 */
export class RedisSessionStore implements SessionStore {
  constructor(
    private readonly connection: RedisConnection,
    private readonly prefix: string,
  ) {}

  async ping(): Promise<boolean> {
    return (await this.connection.ping()).ok;
  }

  close(): void {
    // The connection belongs to the redis plugin, which closes it after this plugin stopped.
  }

  async get(ref: string): Promise<SessionRecord | undefined> {
    return parseRecord(await this.run((c) => c.get(this.recordKey(ref))));
  }

  async getMany(refs: readonly string[]): Promise<(SessionRecord | undefined)[]> {
    if (refs.length === 0) return [];
    const raw = await this.run((c) => c.mget(refs.map((ref) => this.recordKey(ref))));
    return raw.map(parseRecord);
  }

  async refOf(id: string): Promise<string | undefined> {
    return (await this.run((c) => c.get(this.pointerKey(id)))) ?? undefined;
  }

  async create(record: SessionRecord, retainUntil: number): Promise<void> {
    const index = this.indexKey(record.userId);
    await this.exec((m) =>
      m
        .set(this.recordKey(record.ref), JSON.stringify(record), 'PXAT', retainUntil)
        .set(this.pointerKey(record.id), record.ref, 'PXAT', retainUntil)
        .zadd(index, record.createdAt, record.ref)
        // NX gives a new index its first expiry, GT only ever moves it later: it lives as long as its last session.
        .pexpireat(index, retainUntil, 'NX')
        .pexpireat(index, retainUntil, 'GT'),
    );
  }

  async update(record: SessionRecord, retainUntil?: number): Promise<void> {
    const key = this.recordKey(record.ref);
    const json = JSON.stringify(record);
    if (retainUntil === undefined) {
      // XX: a session deleted meanwhile (revoked on another instance) is never brought back.
      await this.run((c) => c.set(key, json, 'KEEPTTL', 'XX'));
      return;
    }
    const index = this.indexKey(record.userId);
    await this.exec((m) =>
      m
        .set(key, json, 'PXAT', retainUntil, 'XX')
        .pexpireat(this.pointerKey(record.id), retainUntil, 'XX')
        .pexpireat(index, retainUntil, 'GT'),
    );
  }

  async remove(record: SessionRecord): Promise<boolean> {
    const results = await this.exec((m) =>
      m.del(this.recordKey(record.ref)).del(this.pointerKey(record.id)).zrem(this.indexKey(record.userId), record.ref),
    );
    return results[0] === 1;
  }

  async members(userId: string): Promise<string[]> {
    return this.run((c) => c.zrevrange(this.indexKey(userId), 0, -1));
  }

  async forget(userId: string, refs: readonly string[]): Promise<void> {
    if (refs.length === 0) return;
    await this.run((c) => c.zrem(this.indexKey(userId), ...refs));
  }

  private recordKey(ref: string): string {
    return `${this.prefix}s:${ref}`;
  }

  private pointerKey(id: string): string {
    return `${this.prefix}id:${id}`;
  }

  private indexKey(userId: string): string {
    return `${this.prefix}u:${userId}`;
  }

  /** Runs a MULTI/EXEC transaction; every command's own error fails it too. */
  private async exec(build: (multi: ChainableCommander) => ChainableCommander): Promise<unknown[]> {
    const replies = await this.run((c) => build(c.multi()).exec());
    if (replies === null)
      throw SessionsErrors.STORE_UNAVAILABLE('the session store (Redis) aborted a transaction', {
        headers: { 'Retry-After': '1' },
      });
    const failed = replies.find(([err]) => err !== null);
    if (failed)
      throw SessionsErrors.STORE_UNAVAILABLE('the session store (Redis) refused a command', {
        cause: failed[0],
        headers: { 'Retry-After': '1' },
      });
    return replies.map(([, value]) => value);
  }

  /** The redis plugin's run(), its 503 re-coded as this plugin's own. */
  private async run<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    try {
      return await this.connection.run(command);
    } catch (err) {
      if (GantryError.is(err) && err.status === 503)
        throw SessionsErrors.STORE_UNAVAILABLE('the session store (Redis) did not answer', {
          cause: err,
          headers: { 'Retry-After': '1' },
        });
      throw err;
    }
  }
}

/** A stored record, or undefined when absent or not a record (a foreign key under our prefix is never trusted). */
function parseRecord(raw: string | null): SessionRecord | undefined {
  if (raw === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const r = value as Partial<SessionRecord> | null;
  const valid =
    typeof r === 'object' &&
    r !== null &&
    typeof r.ref === 'string' &&
    typeof r.id === 'string' &&
    typeof r.userId === 'string' &&
    (r.kind === 'cookie' || r.kind === 'token') &&
    typeof r.createdAt === 'number' &&
    typeof r.lastSeenAt === 'number' &&
    typeof r.expiresAt === 'number';
  return valid ? (r as SessionRecord) : undefined;
}
