import { randomUUID } from 'node:crypto';
import type { Logger } from '@gantry/core';
import type { Database, MigrationDefinition, SqlEntityManager } from '@gantry/plugin-database';
import type { EventDriver, OutgoingMessage } from './driver.js';
import { HEADERS } from './envelope.js';

/** The outbox and processed-event tables, for SQLite and PostgreSQL (times are epoch milliseconds on both). */
export const outboxMigrations: readonly MigrationDefinition[] = [
  {
    name: '0001_create_outbox',
    up(m) {
      const seq = m.driver === 'postgresql' ? 'bigserial primary key' : 'integer primary key autoincrement';
      m.sql(`create table gantry_outbox (
        sequence ${seq},
        id varchar(36) not null unique,
        topic varchar(255) not null,
        event_key varchar(255) null,
        lock_key varchar(255) not null,
        headers text not null,
        payload text not null,
        created_at bigint not null,
        sent_at bigint null,
        lease_owner varchar(64) null,
        lease_until bigint null)`);
      // Unsent rows in commit order (the relay's window), and per key (its head-row check).
      m.sql('create index gantry_outbox_unsent_idx on gantry_outbox (sent_at, sequence)');
      m.sql('create index gantry_outbox_key_idx on gantry_outbox (sent_at, lock_key, sequence)');
      m.sql(`create table gantry_processed_event (
        event_id varchar(36) not null,
        handler varchar(255) not null,
        processed_at bigint not null,
        primary key (event_id, handler))`);
      m.sql('create index gantry_processed_event_at_idx on gantry_processed_event (processed_at)');
    },
  },
];

/** One outbox row as the relay reads it. */
export interface OutboxRow {
  readonly sequence: number;
  readonly id: string;
  readonly message: OutgoingMessage;
}

/** Depth and age of the unsent part of the outbox (metrics, health). */
export interface OutboxStats {
  readonly depth: number;
  /** Age in ms of the oldest unsent row, 0 when empty. */
  readonly oldestAgeMs: number;
}

interface RawRow {
  sequence: number | string;
  id: string;
  topic: string;
  event_key: string | null;
  headers: string;
  payload: string;
}

/** SQL over `gantry_outbox` and `gantry_processed_event`, on the database plugin's connection. */
export class OutboxStore {
  constructor(private readonly db: Database) {}

  /** Schema-qualified table name (raw SQL does not get the ORM's search_path). */
  table(name: 'gantry_outbox' | 'gantry_processed_event'): string {
    const schema =
      this.db.driver === 'postgresql' ? (this.db.orm().config.get('schema') as string | undefined) : undefined;
    return schema ? `"${schema}".${name}` : name;
  }

  /** The EntityManager of the transaction running around the caller (`db.transaction()`), if any. */
  currentTransaction(): SqlEntityManager | undefined {
    const em = this.db.orm().em.getContext(false) as SqlEntityManager;
    return em.isInTransaction() ? em : undefined;
  }

  /** Writes one row with `em` (inside its transaction when it has one). */
  async insert(em: SqlEntityManager, message: OutgoingMessage): Promise<void> {
    const id = message.headers[HEADERS.id] ?? randomUUID();
    await em.execute(
      `insert into ${this.table('gantry_outbox')} (id, topic, event_key, lock_key, headers, payload, created_at) values (?, ?, ?, ?, ?, ?, ?)`,
      [
        id,
        message.topic,
        message.key,
        message.key ?? id,
        JSON.stringify(message.headers),
        message.value.toString('utf8'),
        Date.now(),
      ],
      'run',
    );
  }

  /**
   * SQLite: claims up to `batch` of the oldest unsent rows whose key no other live lease holds, then
   * returns them in sequence order. A key's claimed rows are always its oldest unsent ones (a
   * prefix), so a key is held exactly when its oldest unsent row is under a live lease: the UPDATE
   * re-checks that row for each key (SQLite runs one statement at a time, so check and claim are
   * atomic). Two relays never hold one key, and order per key holds.
   */
  async claimWithLease(owner: string, leaseMs: number, batch: number): Promise<OutboxRow[]> {
    const em = this.db.orm().em.fork();
    const t = this.table('gantry_outbox');
    const now = Date.now();
    // A key's leased rows are older than its free ones: a window of the oldest rows shows every lease
    // that blocks a key with free rows in it.
    const window = await em.execute<
      { sequence: number | string; lock_key: string; lease_owner: string | null; lease_until: number | string | null }[]
    >(`select sequence, lock_key, lease_owner, lease_until from ${t} where sent_at is null order by sequence limit ?`, [
      batch * 2,
    ]);
    const blocked = new Set<string>();
    for (const r of window)
      if (r.lease_owner !== null && r.lease_owner !== owner && Number(r.lease_until) > now) blocked.add(r.lock_key);
    const chosen = window
      .filter((r) => !blocked.has(r.lock_key))
      .slice(0, batch)
      .map((r) => Number(r.sequence));
    if (chosen.length === 0) return [];
    const list = chosen.map(() => '?').join(', ');
    await em.execute(
      `update ${t} set lease_owner = ?, lease_until = ?
       where sequence in (${list}) and sent_at is null
         and coalesce((select case when o.lease_owner is not null and o.lease_owner <> ? and o.lease_until > ? then 1 else 0 end
           from ${t} o where o.lock_key = ${t}.lock_key and o.sent_at is null order by o.sequence limit 1), 0) = 0`,
      [owner, now + leaseMs, ...chosen, owner, now],
      'run',
    );
    const rows = await em.execute<RawRow[]>(
      `select sequence, id, topic, event_key, headers, payload from ${t}
       where sequence in (${list}) and lease_owner = ? and sent_at is null order by sequence`,
      [...chosen, owner],
    );
    return rows.map(toRow);
  }

  /** Marks claimed rows sent and drops their lease (SQLite). */
  async markSent(owner: string, sequences: readonly number[]): Promise<void> {
    if (sequences.length === 0) return;
    await this.db
      .orm()
      .em.fork()
      .execute(
        `update ${this.table('gantry_outbox')} set sent_at = ?, lease_owner = null, lease_until = null
         where lease_owner = ? and sequence in (${sequences.map(() => '?').join(', ')})`,
        [Date.now(), owner, ...sequences],
        'run',
      );
  }

  /** Gives back what `owner` claimed and did not send (SQLite), so another relay need not wait for the lease. */
  async release(owner: string): Promise<void> {
    await this.db
      .orm()
      .em.fork()
      .execute(
        `update ${this.table('gantry_outbox')} set lease_owner = null, lease_until = null where lease_owner = ? and sent_at is null`,
        [owner],
        'run',
      );
  }

  /**
   * PostgreSQL: in one transaction, locks up to `batch` of the oldest unsent rows with `FOR UPDATE
   * SKIP LOCKED` (rows another relay holds are skipped), keeps for each key only the rows from its
   * oldest unsent row up to the first one it did not lock (so a key another relay holds is left
   * whole, and per-key order holds across relays), runs `send`, and marks them sent before
   * committing. A relay that dies mid-batch rolls back: its rows are sent again by the next one.
   * With `lanes` > 1, lane `lane` only takes keys whose hash falls in it (lanes never share a key).
   */
  async relayLocked(batch: number, send: (rows: OutboxRow[]) => Promise<void>, lane = 0, lanes = 1): Promise<number> {
    const t = this.table('gantry_outbox');
    return this.db
      .orm()
      .em.fork()
      .transactional(async (em) => {
        const inLane = lanes > 1 ? `and ((hashtext(lock_key)::bigint % ${lanes}) + ${lanes}) % ${lanes} = ${lane}` : '';
        const locked = await em.execute<(RawRow & { lock_key: string })[]>(
          `select sequence, id, topic, event_key, lock_key, headers, payload from ${t}
           where sent_at is null ${inLane} order by sequence limit ? for update skip locked`,
          [batch],
        );
        if (locked.length === 0) return 0;
        const mine = new Map(locked.map((r) => [Number(r.sequence), r]));
        const keys = [...new Set(locked.map((r) => r.lock_key))];
        const last = Math.max(...mine.keys());
        // A plain read (it does not wait for locks): every unsent row of those keys up to our last one.
        const all = await em.execute<{ sequence: number | string; lock_key: string }[]>(
          `select sequence, lock_key from ${t} where sent_at is null and lock_key in (${keys.map(() => '?').join(', ')})
           and sequence <= ? order by sequence`,
          [...keys, last],
        );
        const stopped = new Set<string>();
        const kept: RawRow[] = [];
        for (const r of all) {
          if (stopped.has(r.lock_key)) continue;
          const row = mine.get(Number(r.sequence));
          if (row) kept.push(row);
          else stopped.add(r.lock_key);
        }
        if (kept.length === 0) return 0;
        const rows = kept.map(toRow);
        await send(rows);
        await em.execute(
          `update ${t} set sent_at = ? where sequence in (${rows.map(() => '?').join(', ')})`,
          [Date.now(), ...rows.map((r) => r.sequence)],
          'run',
        );
        return rows.length;
      });
  }

  /** Deletes sent rows older than `ageMs` and processed-event marks older than `processedMs`; returns the outbox rows deleted. */
  async prune(ageMs: number, processedMs: number): Promise<number> {
    const em = this.db.orm().em.fork();
    const before = Date.now() - ageMs;
    const res = await em.execute<{ affectedRows?: number }>(
      `delete from ${this.table('gantry_outbox')} where sent_at is not null and sent_at <= ?`,
      [before],
      'run',
    );
    await em.execute(
      `delete from ${this.table('gantry_processed_event')} where processed_at <= ?`,
      [Date.now() - processedMs],
      'run',
    );
    return Number(res.affectedRows ?? 0);
  }

  /** Unsent rows and the age of the oldest. */
  async stats(): Promise<OutboxStats> {
    const [row] = await this.db
      .orm()
      .em.fork()
      .execute<{ depth: number | string; oldest: number | string | null }[]>(
        `select count(*) as depth, min(created_at) as oldest from ${this.table('gantry_outbox')} where sent_at is null`,
      );
    const oldest = row?.oldest == null ? undefined : Number(row.oldest);
    return { depth: Number(row?.depth ?? 0), oldestAgeMs: oldest === undefined ? 0 : Math.max(0, Date.now() - oldest) };
  }

  /**
   * Records that `handler` processed `eventId`, in `em`'s transaction. False when it already was:
   * the caller skips the event (a redelivery has no second effect).
   */
  async markProcessed(em: SqlEntityManager, eventId: string, handler: string): Promise<boolean> {
    const res = await em.execute<{ affectedRows?: number }>(
      `insert into ${this.table('gantry_processed_event')} (event_id, handler, processed_at) values (?, ?, ?) on conflict do nothing`,
      [eventId, handler, Date.now()],
      'run',
    );
    return Number(res.affectedRows ?? 0) > 0;
  }
}

function toRow(r: RawRow): OutboxRow {
  return {
    sequence: Number(r.sequence),
    id: r.id,
    message: {
      topic: r.topic,
      key: r.event_key,
      value: Buffer.from(r.payload, 'utf8'),
      headers: JSON.parse(r.headers) as Record<string, string>,
    },
  };
}

/** Options of {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  readonly db: Database;
  readonly driver: EventDriver;
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly batchSize: number;
  readonly leaseMs: number;
  readonly sendTimeoutMs: number;
  readonly pruneAfterMs: number;
  /** Relay loops in this instance, each claiming its own keys (default 1). */
  readonly lanes?: number;
  /** Age past which processed-event marks are deleted (default 7 days). */
  readonly processedRetentionMs?: number;
  /** Called with each batch the broker acknowledged (metrics). */
  readonly onSent?: (rows: readonly OutboxRow[]) => void;
}

/**
 * The outbox forwarder: polls committed outbox rows, sends them through the driver in sequence order
 * per key, and marks them sent only after the broker acknowledged them. Any number of relays may run
 * on one outbox: PostgreSQL relays skip keys another holds (`FOR UPDATE SKIP LOCKED`), SQLite relays
 * lease keys with a conditional UPDATE. A row sent but not marked (crash between ack and mark) is
 * sent again: delivery is at least once, consumers deduplicate by event id.
 */
export class OutboxRelay {
  readonly owner = `relay-${randomUUID()}`;
  readonly store: OutboxStore;
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly waiters = new Set<() => void>();
  private nudged = false;
  private lastPrune = 0;
  private lastError: { at: string; message: string } | undefined;

  constructor(private readonly options: OutboxRelayOptions) {
    this.store = new OutboxStore(options.db);
  }

  /** Starts polling: `lanes` loops, each claiming its own keys, so batches overlap their broker round trips. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const lanes = Math.max(1, this.options.lanes ?? 1);
    this.loops = Array.from({ length: lanes }, (_, i) => this.run(i));
  }

  /** Polls now instead of at the next interval (a row was just written): wakes one idle lane. */
  nudge(): void {
    this.nudged = true;
    this.wakeOne();
  }

  private wakeOne(): void {
    const first = this.waiters.values().next();
    if (!first.done) first.value();
  }

  /** Finishes the batches in hand, then stops (what it had not claimed stays for the next instance). */
  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.waiters) wake();
    await Promise.all(this.loops);
    this.loops = [];
  }

  /** The last failed round, if the latest round failed (health). */
  failing(): { at: string; message: string } | undefined {
    return this.lastError;
  }

  /**
   * One round of lane `lane` (default the first): claims, sends and marks up to one batch; returns
   * the rows sent. Exposed for tests and drains.
   */
  async relayOnce(lane = 0): Promise<number> {
    const { db, batchSize } = this.options;
    const lanes = Math.max(1, this.options.lanes ?? 1);
    if (db.driver === 'postgresql')
      return this.store.relayLocked(batchSize, (rows) => this.send(rows), lane % lanes, lanes);
    const owner = `${this.owner}-${lane}`;
    const rows = await this.store.claimWithLease(owner, this.options.leaseMs, batchSize);
    if (rows.length === 0) return 0;
    try {
      await this.send(rows);
    } catch (err) {
      await this.store.release(owner).catch(() => undefined);
      throw err;
    }
    await this.store.markSent(
      owner,
      rows.map((r) => r.sequence),
    );
    return rows.length;
  }

  private async send(rows: OutboxRow[]): Promise<void> {
    await this.options.driver.send(
      rows.map((r) => r.message),
      { signal: AbortSignal.timeout(this.options.sendTimeoutMs) },
    );
    this.options.onSent?.(rows);
  }

  private async run(lane: number): Promise<void> {
    while (this.running) {
      this.nudged = false;
      let sent = 0;
      try {
        sent = await this.relayOnce(lane);
        if (Date.now() - this.lastPrune > Math.min(60_000, Math.max(1_000, this.options.pruneAfterMs))) {
          this.lastPrune = Date.now();
          await this.store.prune(this.options.pruneAfterMs, this.options.processedRetentionMs ?? 7 * 86_400_000);
        }
        this.lastError = undefined;
      } catch (err) {
        const message = (err as Error)?.message ?? String(err);
        if (this.lastError === undefined)
          this.options.logger.warn({ err }, `outbox relay: ${message}; rows are kept and retried`);
        this.lastError = { at: new Date().toISOString(), message };
      }
      // A full batch means more is waiting: go on at once (unless the broker is failing), after
      // yielding to I/O (SQLite and the in-process broker answer without it and would starve the loop).
      // A lane that found nothing waits (woken by a new row or by a lane releasing its keys) rather than spinning.
      if (sent > 0) this.wakeOne();
      if (
        !this.running ||
        (this.lastError === undefined && sent > 0 && (sent >= this.options.batchSize || this.nudged))
      ) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, this.options.intervalMs);
        this.waiters.add(wake);
      });
    }
  }
}
