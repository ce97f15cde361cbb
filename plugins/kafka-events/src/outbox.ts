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
  {
    // The relay's work queue moves to a narrow table: claiming, leasing and marking rewrite (and
    // delete) a few bytes per row instead of the whole event, whose row is written once.
    name: '0002_outbox_pending',
    up(m) {
      const seq = m.driver === 'postgresql' ? 'bigint primary key' : 'integer primary key';
      m.sql(`create table gantry_outbox_pending (
        sequence ${seq},
        lock_key varchar(255) not null,
        lease_owner varchar(64) null,
        lease_until bigint null)`);
      m.sql('create index gantry_outbox_pending_key_idx on gantry_outbox_pending (lock_key, sequence)');
      // SQLite: the insert of an event queues it (one statement, so atomic without a transaction);
      // PostgreSQL writes both rows with one statement of its own (see OutboxStore.insert).
      if (m.driver === 'sqlite')
        m.sql(`create trigger gantry_outbox_enqueue after insert on gantry_outbox
          begin insert into gantry_outbox_pending (sequence, lock_key) values (new.sequence, new.lock_key); end`);
      m.sql(`insert into gantry_outbox_pending (sequence, lock_key, lease_owner, lease_until)
        select sequence, lock_key, lease_owner, lease_until from gantry_outbox where sent_at is null`);
      m.sql('drop index gantry_outbox_unsent_idx');
      m.sql('drop index gantry_outbox_key_idx');
      for (const column of ['sent_at', 'lease_owner', 'lease_until'])
        m.sql(`alter table gantry_outbox drop column ${column}`);
      m.sql('create index gantry_outbox_created_idx on gantry_outbox (created_at)');
    },
  },
];

/**
 * How far past a batch an SQLite claim looks for rows of free keys: the oldest `WINDOW_FACTOR × batch`
 * pending rows (a key's leased rows are older than its free ones, so the window shows every lease that
 * blocks a key with free rows in it).
 */
const WINDOW_FACTOR = 2;

/** One outbox row as the relay reads it. */
export interface OutboxRow {
  readonly sequence: number;
  readonly id: string;
  readonly message: OutgoingMessage;
}

/** Depth and age of the pending (unsent) part of the outbox (metrics, health). */
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
  table(name: 'gantry_outbox' | 'gantry_outbox_pending' | 'gantry_processed_event'): string {
    const schema =
      this.db.driver === 'postgresql' ? (this.db.orm().config.get('schema') as string | undefined) : undefined;
    return schema ? `"${schema}".${name}` : name;
  }

  /** The EntityManager of the transaction running around the caller (`db.transaction()`), if any. */
  currentTransaction(): SqlEntityManager | undefined {
    const em = this.db.orm().em.getContext(false) as SqlEntityManager;
    return em.isInTransaction() ? em : undefined;
  }

  /**
   * Writes one event with `em` (inside its transaction when it has one): its row in `gantry_outbox`
   * and its entry in the relay's queue, `gantry_outbox_pending`.
   */
  async insert(em: SqlEntityManager, message: OutgoingMessage): Promise<void> {
    const id = message.headers[HEADERS.id] ?? randomUUID();
    const values = [
      id,
      message.topic,
      message.key,
      message.key ?? id,
      JSON.stringify(message.headers),
      message.value.toString('utf8'),
      Date.now(),
    ];
    const outbox = `insert into ${this.table('gantry_outbox')} (id, topic, event_key, lock_key, headers, payload, created_at) values (?, ?, ?, ?, ?, ?, ?)`;
    // One statement either way, so both rows or neither even outside a transaction: on SQLite the
    // table's trigger queues the event, on PostgreSQL the statement writes both.
    await em.execute(
      this.db.driver === 'postgresql'
        ? `with o as (${outbox} returning sequence, lock_key) insert into ${this.table('gantry_outbox_pending')} (sequence, lock_key) select sequence, lock_key from o`
        : outbox,
      values,
      'run',
    );
  }

  /**
   * SQLite: claims up to `batch` of the oldest pending rows whose key no other live lease holds, in one
   * `UPDATE … RETURNING` on the narrow queue table (SQLite runs one statement at a time, so check and
   * claim are atomic), then reads those events, in sequence order. A key's claimed rows are always its
   * oldest pending ones (a prefix): a row is taken only when its key's oldest pending row is not under
   * another owner's live lease (leased rows being a prefix, then none is), so two relays (or two lanes)
   * never hold one key, and order per key holds. Candidates come from a window of the oldest pending
   * rows (`WINDOW_FACTOR` × `batch`): a relay whose keys are all held elsewhere looks at that window,
   * not at the whole backlog.
   */
  async claimWithLease(owner: string, leaseMs: number, batch: number, claim = `${owner}#0`): Promise<OutboxRow[]> {
    const p = this.table('gantry_outbox_pending');
    const now = Date.now();
    const mine = `${owner}#`;
    const em = this.db.orm().em.fork();
    const claimed = await em.execute<{ sequence: number }[]>(
      `update ${p} set lease_owner = ?, lease_until = ?
         where sequence in (
           select o.sequence from (
             select sequence, lock_key from ${p}
             where lease_owner is null or lease_until <= ?
             order by sequence limit ?) o
           where coalesce((select case when h.lease_until > ? and substr(h.lease_owner, 1, ?) <> ? then 1 else 0 end
             from ${p} h where h.lock_key = o.lock_key order by h.sequence limit 1), 0) = 0
           order by o.sequence limit ?)
         returning sequence`,
      [claim, now + leaseMs, now, batch * WINDOW_FACTOR, now, mine.length, mine, batch],
    );
    if (claimed.length === 0) return [];
    const [lo, hi] = bounds(claimed.map((r) => r.sequence));
    const rows = await em.execute<RawRow[]>(
      `select o.sequence, o.id, o.topic, o.event_key, o.headers, o.payload
         from ${p} q join ${this.table('gantry_outbox')} o on o.sequence = q.sequence
         where q.sequence between ? and ? and q.lease_owner = ? order by q.sequence`,
      [lo, hi, claim],
    );
    return rows.map(toRow);
  }

  /** Takes the rows of one claim off the queue (SQLite): they are sent. The sequence range keeps the lookup on the primary key. */
  async markSent(claim: string, sequences: readonly number[]): Promise<void> {
    if (sequences.length === 0) return;
    const [lo, hi] = bounds(sequences);
    await this.db
      .orm()
      .em.fork()
      .execute(
        `delete from ${this.table('gantry_outbox_pending')} where sequence between ? and ? and lease_owner = ?`,
        [lo, hi, claim],
        'run',
      );
  }

  /** Gives back what `owner` claimed and did not send (SQLite), so another relay need not wait for the lease. */
  async release(owner: string): Promise<void> {
    const mine = `${owner}#`;
    await this.db
      .orm()
      .em.fork()
      .execute(
        `update ${this.table('gantry_outbox_pending')} set lease_owner = null, lease_until = null
         where substr(lease_owner, 1, ?) = ?`,
        [mine.length, mine],
        'run',
      );
  }

  /**
   * PostgreSQL: in one transaction, locks up to `batch` of the oldest pending rows with `FOR UPDATE
   * SKIP LOCKED` (rows another relay holds are skipped), keeps for each key only the rows from its
   * oldest pending row up to the first one it did not lock (so a key another relay holds is left
   * whole, and per-key order holds across relays), runs `send`, and takes them off the queue before
   * committing. A relay that dies mid-batch rolls back: its rows are sent again by the next one.
   * With `lanes` > 1, lane `lane` only takes keys whose hash falls in it (lanes never share a key).
   */
  async relayLocked(batch: number, send: (rows: OutboxRow[]) => Promise<void>, lane = 0, lanes = 1): Promise<number> {
    const p = this.table('gantry_outbox_pending');
    return this.db
      .orm()
      .em.fork()
      .transactional(async (em) => {
        // Marking sent need not wait for the disk: a mark lost in a crash sends the rows again, which
        // at-least-once delivery allows (consumers dedupe by event id).
        await em.execute('set local synchronous_commit = off', [], 'run');
        const inLane =
          lanes > 1 ? `and ((hashtext(q.lock_key)::bigint % ${lanes}) + ${lanes}) % ${lanes} = ${lane}` : '';
        // The oldest pending rows nobody else holds, each with whether an older pending row of its key
        // was not locked here (another relay holds it): such a row, and every later one of its key, is
        // left, so each key sends an unbroken run from its oldest pending row. One round trip.
        const locked = await em.execute<(RawRow & { blocked: boolean })[]>(
          `with l as (
             select q.sequence, q.lock_key from ${p} q where true ${inLane}
             order by q.sequence limit ? for update of q skip locked)
           select l.sequence, o.id, o.topic, o.event_key, o.headers, o.payload,
             exists (select 1 from ${p} e where e.lock_key = l.lock_key and e.sequence < l.sequence
                     and e.sequence not in (select sequence from l)) as blocked
           from l join ${this.table('gantry_outbox')} o on o.sequence = l.sequence order by l.sequence`,
          [batch],
        );
        const kept = locked.filter((r) => !r.blocked);
        if (kept.length === 0) return 0;
        const rows = kept.map(toRow);
        await send(rows);
        // One parameter whatever the batch size (a list of 500 placeholders costs more to bind than to run).
        await em.execute(
          `delete from ${p} where sequence = any(string_to_array(?, ',')::bigint[])`,
          [rows.map((r) => r.sequence).join(',')],
          'run',
        );
        return rows.length;
      });
  }

  /**
   * Deletes sent events created more than `ageMs` ago and processed-event marks older than
   * `processedMs`; returns the outbox rows deleted. A pending event is never deleted, however old.
   */
  async prune(ageMs: number, processedMs: number): Promise<number> {
    const em = this.db.orm().em.fork();
    const t = this.table('gantry_outbox');
    const res = await em.execute<{ affectedRows?: number }>(
      `delete from ${t} where created_at <= ?
         and not exists (select 1 from ${this.table('gantry_outbox_pending')} q where q.sequence = ${t}.sequence)`,
      [Date.now() - ageMs],
      'run',
    );
    await em.execute(
      `delete from ${this.table('gantry_processed_event')} where processed_at <= ?`,
      [Date.now() - processedMs],
      'run',
    );
    return Number(res.affectedRows ?? 0);
  }

  /** Pending events and the age of the oldest. */
  async stats(): Promise<OutboxStats> {
    const [row] = await this.db
      .orm()
      .em.fork()
      .execute<{ depth: number | string; oldest: number | string | null }[]>(
        `select count(*) as depth, min(o.created_at) as oldest
           from ${this.table('gantry_outbox_pending')} q join ${this.table('gantry_outbox')} o on o.sequence = q.sequence`,
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

/** The lowest and highest of `sequences` (not empty). */
function bounds(sequences: readonly number[]): [number, number] {
  let lo = Number(sequences[0]);
  let hi = lo;
  for (const v of sequences) {
    const n = Number(v);
    if (n < lo) lo = n;
    if (n > hi) hi = n;
  }
  return [lo, hi];
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
  /** SQLite: per lane, the batch handed to the driver and not yet marked sent. */
  private readonly flights = new Map<number, { claim: string; rows: OutboxRow[]; acked: Promise<void> }>();
  private claims = 0;
  /** SQLite: per lane, how many polls in a row found every key held by other lanes. */
  private readonly emptyStreak = new Map<number, number>();

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
    const owner = this.laneOwner(lane);
    const claim = `${owner}#${++this.claims}`;
    const rows = await this.store.claimWithLease(owner, this.options.leaseMs, batchSize, claim);
    if (rows.length === 0) return 0;
    try {
      await this.send(rows);
    } catch (err) {
      await this.store.release(owner).catch(() => undefined);
      throw err;
    }
    await this.store.markSent(
      claim,
      rows.map((r) => r.sequence),
    );
    return rows.length;
  }

  private laneOwner(lane: number): string {
    return `${this.owner}-${lane}`;
  }

  /**
   * One pipelined round of an SQLite lane: claims the next batch while the lane's previous one is
   * with the broker, hands it to the driver only once the previous one was acknowledged (a lane's
   * batches reach the broker in claim order, so a key's rows spread over two batches keep their
   * order), then waits for the previous batch's acknowledgement and marks it sent. The claim and the
   * mark run while a batch is in flight instead of between round trips. A failed send releases
   * everything the lane holds, the batch queued behind it included (never sent): both are claimed
   * again, in order. Returns the rows marked sent.
   */
  private async pipelinedRound(lane: number): Promise<number> {
    const owner = this.laneOwner(lane);
    const previous = this.flights.get(lane);
    const claim = `${owner}#${++this.claims}`;
    let rows: OutboxRow[] = [];
    try {
      if (this.running)
        rows = await this.store.claimWithLease(owner, this.options.leaseMs, this.options.batchSize, claim);
    } catch (err) {
      // No next batch (the database failed): settle the one in flight first, so it is marked (or
      // released) rather than left pending while the loop retries the claim.
      if (previous) {
        this.flights.delete(lane);
        await this.settle(owner, previous).catch(() => undefined);
      }
      throw err;
    }
    if (rows.length > 0) {
      const acked = (previous?.acked ?? Promise.resolve()).then(() => this.send(rows));
      acked.catch(() => undefined); // awaited by the next round; a failure must not go unhandled meanwhile
      this.flights.set(lane, { claim, rows, acked });
    } else this.flights.delete(lane);
    if (!previous) return 0;
    try {
      await previous.acked;
    } catch (err) {
      // The batch queued behind it was never sent (its send waits on this one): release both.
      this.flights.delete(lane);
      await this.store.release(owner).catch(() => undefined);
      throw err;
    }
    // A failing mark leaves the next batch in flight (settled next round); these rows, sent but not
    // marked, go again after their lease, as after a crash between the ack and the mark.
    await this.store.markSent(
      previous.claim,
      previous.rows.map((r) => r.sequence),
    );
    return previous.rows.length;
  }

  /** Waits for a batch's acknowledgement and marks it sent; a failed send releases everything `owner` holds. */
  private async settle(
    owner: string,
    flight: { claim: string; rows: OutboxRow[]; acked: Promise<void> },
  ): Promise<number> {
    try {
      await flight.acked;
    } catch (err) {
      await this.store.release(owner).catch(() => undefined);
      throw err;
    }
    await this.store.markSent(
      flight.claim,
      flight.rows.map((r) => r.sequence),
    );
    return flight.rows.length;
  }

  /**
   * How long an idle lane waits before polling again (a new row wakes it sooner). An SQLite lane that
   * keeps finding every key held by the other lanes backs off, doubling up to 1 s: its empty claims
   * would spend the busy lanes' CPU.
   */
  private idleDelay(lane: number, foundNothing: boolean): number {
    const { intervalMs } = this.options;
    const busyElsewhere = [...this.flights.keys()].some((l) => l !== lane);
    const streak = foundNothing && busyElsewhere ? (this.emptyStreak.get(lane) ?? 0) + 1 : 0;
    this.emptyStreak.set(lane, streak);
    return streak === 0 ? intervalMs : Math.max(intervalMs, Math.min(1_000, intervalMs * 2 ** streak));
  }

  /** Settles what a stopping SQLite lane still has with the broker: marked once acknowledged, released if it failed. */
  private async finishLane(lane: number): Promise<void> {
    while (this.flights.has(lane)) await this.pipelinedRound(lane);
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
        sent = this.options.db.driver === 'postgresql' ? await this.relayOnce(lane) : await this.pipelinedRound(lane);
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
      // SQLite lanes pipeline, so a busy lane goes on with the keys it frees itself: waking an idle lane
      // on its progress would only buy a claim that finds every key held.
      const pipelined = this.options.db.driver !== 'postgresql';
      if (sent > 0 && !pipelined) this.wakeOne();
      if (
        !this.running ||
        (this.lastError === undefined && this.flights.has(lane)) ||
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
        const timer = setTimeout(wake, this.idleDelay(lane, pipelined && sent === 0));
        this.waiters.add(wake);
      });
    }
    // Stopping: what this lane handed to the broker is marked (or released) before stop() resolves.
    await this.finishLane(lane).catch((err: unknown) =>
      this.options.logger.warn(
        { err },
        'outbox relay: a batch in flight at shutdown failed; its rows are kept for the next relay',
      ),
    );
  }
}
