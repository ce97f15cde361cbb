import { randomBytes } from 'node:crypto';
import { currentContext, GantryError, type Logger } from '@gantry/core';
import { DatabaseErrors, type Database } from '@gantry/plugin-database';
import type { AuditConfig } from './config.js';
import { AuditEventEntity, type AuditEventRow } from './entity.js';
import { AuditErrors } from './errors.js';
import { cleanString, sanitizeDetails } from './sanitize.js';

/** What an audited action came to. */
export type AuditOutcome = 'success' | 'failure' | 'denied';

/** The outcomes {@link Audit.record} accepts. */
export const AUDIT_OUTCOMES: readonly AuditOutcome[] = ['success', 'failure', 'denied'];

/** Lowercase dotted words: `auth.login`, `admin.user.update`. */
export const ACTION_PATTERN = /^[a-z]+(\.[a-z_]+)+$/;

/** Who acted. */
export interface AuditActor {
  readonly id: string;
  readonly kind: string;
}

/** What the action was done to. */
export interface AuditObject {
  readonly type: string;
  readonly id: string;
}

/** What a caller passes to {@link Audit.record}. */
export interface AuditRecordInput {
  /** Dotted lowercase name matching {@link ACTION_PATTERN}, at most 100 characters. */
  readonly action: string;
  readonly outcome: AuditOutcome;
  /** Default: the current request's principal (`{ id, kind }`), if any. */
  readonly actor?: AuditActor;
  readonly object?: AuditObject;
  /** Free-form context; sanitized (secret-looking keys dropped, strings escaped and cut) before it is stored. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Client IP. The request context does not carry it: HTTP-facing callers pass `req.ip`. */
  readonly ip?: string;
}

/** One stored entry, as `record()` returns it and `query()` lists it. */
export interface AuditEntry {
  /** Time-ordered id (UUID v7 layout). */
  readonly id: string;
  /** UTC, ISO 8601 with milliseconds (`2026-01-01T10:00:00.000Z`). */
  readonly time: string;
  readonly action: string;
  readonly outcome: AuditOutcome;
  readonly actor: AuditActor | null;
  readonly object: AuditObject | null;
  readonly requestId: string | null;
  readonly ip: string | null;
  readonly details: Record<string, unknown> | null;
}

/** Filters and paging of {@link Audit.query}. */
export interface AuditQuery {
  readonly actorId?: string;
  readonly action?: string;
  readonly outcome?: AuditOutcome;
  /** Inclusive lower bound on the time. */
  readonly from?: Date | string;
  /** Exclusive upper bound on the time. */
  readonly to?: Date | string;
  /** Entries per page, 1 to 500 (default 50). */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

/** One page of {@link Audit.query}: newest first; `nextCursor` is absent on the last page. */
export interface AuditPage {
  readonly items: readonly AuditEntry[];
  readonly nextCursor?: string;
}

/** Outcome of the latest write, for the health check. */
export interface AuditWriteStatus {
  readonly ok: boolean;
  readonly at: string;
  readonly error?: string;
}

/** The append-only audit trail. There is no update and no delete. */
export interface Audit {
  /**
   * Stores one event and logs it (`logger.info({ audit: entry }, 'audit')`). Time, request id and
   * actor come from the current request context when present. Rejects with GANTRY_AUDIT_INVALID_EVENT
   * (bad action or outcome) or GANTRY_AUDIT_UNAVAILABLE (503: the database write failed; the entry is
   * in the error log line). The caller decides whether the audited action may go on without its entry.
   */
  record(input: AuditRecordInput): Promise<AuditEntry>;
  /** Reads the trail, newest first, with a stable cursor (entries written meanwhile never shift pages). */
  query(query?: AuditQuery): Promise<AuditPage>;
  /** The latest write's outcome, or undefined before the first one. */
  lastWrite(): AuditWriteStatus | undefined;
}

/** What the service needs from the plugin context. */
export interface AuditServiceOptions {
  readonly db: Database;
  readonly config: AuditConfig;
  readonly logger: Logger;
}

const MAX_LIMIT = 500;
const DEFAULT_LIMIT = 50;
const MAX_ACTION = 100;
const CURSOR = /^[A-Za-z0-9_-]{1,200}$/;

/** The {@link Audit} implementation. */
export class AuditService implements Audit {
  private last: AuditWriteStatus | undefined;
  /** Entries written per `action outcome`, and refused writes per action: read by the metrics. */
  private readonly written = new Map<string, number>();
  private readonly failed = new Map<string, number>();
  // Monotonic UUID v7 per instance: entries written in the same millisecond still sort in write order.
  private lastMs = 0;
  private seq = 0;

  constructor(private readonly options: AuditServiceOptions) {}

  async record(input: AuditRecordInput): Promise<AuditEntry> {
    const entry = this.build(input);
    const { db, logger } = this.options;
    try {
      // A fork of its own, without the request's signal: the entry is written outside the caller's
      // unit of work and transaction (a rolled-back or denied action keeps its entry), and a request
      // past its deadline still gets its entry.
      await db.orm().em.fork().insert(AuditEventEntity, toRow(entry));
    } catch (err) {
      // Used before the database started or after it stopped: a wiring bug, not an outage.
      if (DatabaseErrors.NOT_STARTED.is(err)) throw err;
      const code = errorCode(err);
      this.last = { ok: false, at: new Date().toISOString(), error: code };
      this.failed.set(entry.action, (this.failed.get(entry.action) ?? 0) + 1);
      logger.error({ audit: entry, err }, 'audit write failed');
      throw AuditErrors.UNAVAILABLE(`the audit entry ${entry.action} (${entry.id}) could not be stored`, {
        cause: err,
        details: { action: entry.action },
      });
    }
    this.last = { ok: true, at: entry.time };
    const key = `${entry.action} ${entry.outcome}`;
    this.written.set(key, (this.written.get(key) ?? 0) + 1);
    logger.info({ audit: entry }, 'audit');
    return entry;
  }

  /** Entries written since start as `[action, outcome, count]`, and refused writes as `[action, count]`. */
  counts(): {
    written: readonly (readonly [string, AuditOutcome, number])[];
    failed: readonly (readonly [string, number])[];
  } {
    return {
      written: [...this.written].map(([key, n]) => {
        const [action, outcome] = key.split(' ') as [string, AuditOutcome];
        return [action, outcome, n] as const;
      }),
      failed: [...this.failed],
    };
  }

  async query(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw AuditErrors.INVALID_QUERY(`limit must be an integer from 1 to ${MAX_LIMIT}, got ${String(limit)}`);
    const where: Record<string, unknown>[] = [];
    if (query.actorId !== undefined) where.push({ actorId: query.actorId });
    if (query.action !== undefined) where.push({ action: query.action });
    if (query.outcome !== undefined) {
      if (!AUDIT_OUTCOMES.includes(query.outcome))
        throw AuditErrors.INVALID_QUERY(`outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`);
      where.push({ outcome: query.outcome });
    }
    if (query.from !== undefined) where.push({ occurredAt: { $gte: toDate(query.from, 'from') } });
    if (query.to !== undefined) where.push({ occurredAt: { $lt: toDate(query.to, 'to') } });
    if (query.cursor !== undefined) {
      const { time, id } = decodeCursor(query.cursor);
      where.push({ $or: [{ occurredAt: { $lt: time } }, { occurredAt: time, id: { $lt: id } }] });
    }
    let rows: AuditEventRow[];
    try {
      rows = await this.options.db.em().find(AuditEventEntity, where.length ? { $and: where } : {}, {
        orderBy: { occurredAt: 'desc', id: 'desc' },
        limit: limit + 1,
        disableIdentityMap: true,
      });
    } catch (err) {
      if (GantryError.is(err)) throw err;
      throw AuditErrors.UNAVAILABLE('the audit trail could not be read', { cause: err });
    }
    const items = rows.slice(0, limit).map(fromRow);
    const lastItem = items.at(-1);
    return rows.length > limit && lastItem ? { items, nextCursor: encodeCursor(lastItem) } : { items };
  }

  lastWrite(): AuditWriteStatus | undefined {
    return this.last;
  }

  private build(input: AuditRecordInput): AuditEntry {
    if (input === null || typeof input !== 'object')
      throw AuditErrors.INVALID_EVENT('record() expects { action, outcome, ... }');
    const { action, outcome } = input;
    if (typeof action !== 'string' || action.length > MAX_ACTION || !ACTION_PATTERN.test(action)) {
      // JSON.stringify escapes control characters: the message cannot forge a log line either.
      throw AuditErrors.INVALID_EVENT(
        `action ${JSON.stringify(typeof action === 'string' ? action.slice(0, MAX_ACTION) : action)} must match ${ACTION_PATTERN.source} (at most ${MAX_ACTION} characters)`,
      );
    }
    if (!AUDIT_OUTCOMES.includes(outcome))
      throw AuditErrors.INVALID_EVENT(`outcome ${JSON.stringify(outcome)} must be one of ${AUDIT_OUTCOMES.join(', ')}`);
    const { maxStringLength, maxDepth } = this.options.config;
    const clean = (v: unknown, max: number): string => cleanString(String(v), Math.min(max, maxStringLength));
    const ctx = currentContext();
    const actor = input.actor ?? ctx?.principal;
    const now = Date.now();
    const details = sanitizeDetails(input.details, { maxStringLength, maxDepth });
    return {
      id: this.nextId(now),
      time: new Date(now).toISOString(),
      action,
      outcome,
      actor: actor ? { id: clean(actor.id, 255), kind: clean(actor.kind, 64) } : null,
      object: input.object ? { type: clean(input.object.type, 100), id: clean(input.object.id, 255) } : null,
      requestId: ctx ? clean(ctx.requestId, 128) : null,
      ip: input.ip ? clean(input.ip, 64) : null,
      details: details ?? null,
    };
  }

  private nextId(ms: number): string {
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.seq = 0;
    } else this.seq++;
    // 48-bit time (the last one used, so ids never go backwards), version 7, 12-bit sequence, variant, 62 random bits.
    const seq = this.seq & 0xfff;
    if (this.seq > 0xfff) {
      this.lastMs++;
      this.seq = 0;
    }
    const hex = this.lastMs.toString(16).padStart(12, '0') + '7' + seq.toString(16).padStart(3, '0');
    const rand = randomBytes(8);
    rand[0] = (rand[0]! & 0x3f) | 0x80;
    const tail = rand.toString('hex');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
  }
}

function toRow(e: AuditEntry): AuditEventRow {
  return {
    id: e.id,
    occurredAt: new Date(e.time),
    action: e.action,
    outcome: e.outcome,
    actorId: e.actor?.id ?? null,
    actorKind: e.actor?.kind ?? null,
    objectType: e.object?.type ?? null,
    objectId: e.object?.id ?? null,
    requestId: e.requestId,
    ip: e.ip,
    details: e.details ? JSON.stringify(e.details) : null,
  };
}

function fromRow(r: AuditEventRow): AuditEntry {
  return {
    id: r.id,
    time: new Date(r.occurredAt).toISOString(),
    action: r.action,
    outcome: r.outcome as AuditOutcome,
    actor: r.actorId != null ? { id: r.actorId, kind: r.actorKind ?? '' } : null,
    object: r.objectType != null ? { type: r.objectType, id: r.objectId ?? '' } : null,
    requestId: r.requestId ?? null,
    ip: r.ip ?? null,
    details: r.details != null ? (JSON.parse(r.details) as Record<string, unknown>) : null,
  };
}

function toDate(value: Date | string, name: string): Date {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) throw AuditErrors.INVALID_QUERY(`${name} is not a valid date`);
  return d;
}

function encodeCursor(e: AuditEntry): string {
  return Buffer.from(`${e.time}|${e.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { time: Date; id: string } {
  const [iso, id, extra] = CURSOR.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8').split('|') : [];
  const time = iso ? new Date(iso) : undefined;
  if (!time || Number.isNaN(time.getTime()) || !id || extra !== undefined || !/^[0-9a-f-]{36}$/.test(id)) {
    throw AuditErrors.INVALID_QUERY('cursor is not one returned by query()');
  }
  return { time, id };
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'write_failed';
}
