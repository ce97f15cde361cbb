import { CoreErrors, currentContext, GantryError, type Logger } from '@gantry/core';
import { DatabaseErrors } from './errors.js';

// Socket-level failures: the server is down, unreachable or dropped the connection.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
// SQLSTATE: class 08 (connection exception), 57P01-03 (admin/crash shutdown, cannot connect now), 53300 (too many connections).
const PG_UNAVAILABLE_STATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;
// SQLSTATE 57014: statement cancelled (statement_timeout or a cancel request).
const PG_QUERY_CANCELED = '57014';
// SQLSTATE class 22 (data exception: value too long, out of range, invalid text representation, NUL in
// text, bad datetime): the value sent is one the column cannot hold, a client's mistake the application
// did not validate. SQLITE_TOOBIG is SQLite's one such case (it does not enforce lengths or types).
const PG_DATA_EXCEPTION = /^22[0-9A-Z]{3}$/;
const SQLITE_VALUE_INVALID = 'SQLITE_TOOBIG';
// The file is locked by another writer past the busy timeout, or cannot be opened.
const SQLITE_UNAVAILABLE = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN']);
// pg and pg-pool report some connection losses without a code.
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down|in recovery mode)/i;

/** How often an ongoing outage is logged (the first error is logged at once). */
const OUTAGE_LOG_INTERVAL_MS = 10_000;

/** What {@link DatabaseErrorMapper} needs to know about the database it maps errors for. */
export interface ErrorMapperOptions {
  readonly driver: 'sqlite' | 'postgresql';
  /** `host:port` or the SQLite path, for the logs only (never sent to clients). */
  readonly target: string;
  readonly logger: Logger;
}

/**
 * Turns driver failures a client should see as such into coded errors: connection loss → 503
 * `GANTRY_DATABASE_UNAVAILABLE` (with Retry-After), the request deadline or a cancelled statement →
 * 504 `GANTRY_DATABASE_DEADLINE_EXCEEDED`, a value the column cannot hold → 400
 * `GANTRY_DATABASE_VALUE_INVALID`. Everything else is left alone (`undefined`), so
 * constraint violations and the application's own errors keep their type.
 */
export class DatabaseErrorMapper {
  private lastOutageLog = 0;
  private suppressed = 0;

  constructor(private readonly options: ErrorMapperOptions) {}

  /** The coded error `err` stands for, or undefined when it is not a connection or deadline failure. */
  map(err: unknown): GantryError | undefined {
    if (GantryError.is(err)) {
      return CoreErrors.DEADLINE_EXCEEDED.is(err) ? this.deadline(err) : err;
    }
    if (isAbortOfCurrentRequest(err)) return this.deadline(err);
    const code = errorCode(err);
    if (code === PG_QUERY_CANCELED) return this.deadline(err);
    if (code !== undefined && (PG_DATA_EXCEPTION.test(code) || code === SQLITE_VALUE_INVALID)) {
      return DatabaseErrors.VALUE_INVALID(
        'a value sent to the database does not fit its column (too long, out of range or malformed)',
        {
          cause: err,
          details: { reason: 'data-exception', driverCode: code },
        },
      );
    }
    if (isUnavailable(err, code)) {
      this.reportOutage(err);
      return DatabaseErrors.UNAVAILABLE('the database is unavailable; retry later', {
        cause: err,
        headers: { 'Retry-After': '5' },
        details: { driver: this.options.driver },
      });
    }
    return undefined;
  }

  /** The error to throw for `err`: its coded form, else `err` itself. */
  rethrowable(err: unknown): unknown {
    return this.map(err) ?? err;
  }

  private deadline(cause: unknown): GantryError {
    const ctx = currentContext();
    const why = ctx ? `request ${ctx.requestId} passed its deadline or was cancelled` : 'the operation was cancelled';
    return DatabaseErrors.DEADLINE_EXCEEDED(`database work stopped: ${why}`, { cause });
  }

  /** Logs a connection failure as a warning: the first at once, then at most one every 10 s with a count of the others. */
  reportOutage(err: unknown): void {
    const code = errorCode(err);
    const now = Date.now();
    if (now - this.lastOutageLog < OUTAGE_LOG_INTERVAL_MS) {
      this.suppressed++;
      return;
    }
    const suppressed = this.suppressed;
    this.lastOutageLog = now;
    this.suppressed = 0;
    this.options.logger.warn(
      {
        code: DatabaseErrors.UNAVAILABLE.code,
        driver: this.options.driver,
        target: this.options.target,
        reason: (err as Error)?.message ?? String(err),
        driverCode: code,
        suppressed,
      },
      `database unavailable (${this.options.driver} at ${this.options.target}): ${(err as Error)?.message ?? String(err)}`,
    );
  }
}

/** True when `err` is the reason the current request's signal aborted with (kysely rethrows it as is). */
function isAbortOfCurrentRequest(err: unknown): boolean {
  const ctx = currentContext();
  if (!ctx || err === undefined) return false;
  const signal = ctx.signal;
  return signal.aborted && signal.reason === err;
}

function isUnavailable(err: unknown, code: string | undefined): boolean {
  if (
    code !== undefined &&
    (NETWORK_CODES.has(code) || PG_UNAVAILABLE_STATE.test(code) || SQLITE_UNAVAILABLE.has(code))
  )
    return true;
  const message = (err as Error)?.message;
  return typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message);
}

/** The driver's error code (`ECONNREFUSED`, a SQLSTATE, `SQLITE_BUSY`), also on a wrapped cause. */
function errorCode(err: unknown): string | undefined {
  for (
    let e: unknown = err, depth = 0;
    e && typeof e === 'object' && depth < 4;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
