import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { currentContext } from '@gantry/core';
import type { EstablishedSession, Sessions, SessionRevokedListener, SessionView } from './api.js';
import type { SessionsConfig } from './config.js';
import { appendSetCookie, clearingCookie, readCookie, serializeCookie, type CookieAttributes } from './cookies.js';
import type { CsrfTokens } from './csrf.js';
import { SessionsErrors } from './errors.js';
import type { OriginPolicy } from './origin-policy.js';
import type { SessionRecord, SessionStore } from './session-store.js';

/** A cookie value as this plugin issues it: 256 random bits, base64url. */
const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;
/** A public session id: ours (128 random bits, base64url) or a token family id given to register(). */
export const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const MAX_USER_ID = 200;
const MAX_USER_AGENT = 256;
/** The request context slot holding the session the request came with. */
const kCurrent = Symbol('gantry.sessions-redis.current');

/** What a session cookie came to. */
export type Authentication =
  | { readonly status: 'live'; readonly record: SessionRecord }
  | { readonly status: 'expired'; readonly reason: 'idle' | 'absolute' }
  | { readonly status: 'invalid' };

/** What {@link SessionService} needs. */
export interface SessionServiceOptions {
  readonly config: SessionsConfig;
  readonly store: SessionStore;
  readonly csrf: CsrfTokens;
  readonly origins: OriginPolicy;
}

/**
 * The {@link Sessions} service: the session policy on top of a store (memory or Redis). Cookie sessions
 * end after `idleTimeoutSeconds` without a request or `absoluteTimeoutSeconds` after sign-in; token
 * logins end `ttlSeconds` after their last touch. An ended cookie session's record is kept one more idle
 * timeout, so a late request is told it expired rather than that it never existed.
 */
export class SessionService implements Sessions {
  private readonly listeners: SessionRevokedListener[] = [];
  private readonly idleMs: number;
  private readonly absoluteMs: number;
  /** lastSeenAt is written at most this often: one write per request would cost a round trip each. */
  private readonly touchEveryMs: number;
  private readonly attributes: CookieAttributes;

  constructor(private readonly options: SessionServiceOptions) {
    const { config } = options;
    this.idleMs = config.idleTimeoutSeconds * 1000;
    this.absoluteMs = config.absoluteTimeoutSeconds * 1000;
    this.touchEveryMs = Math.min(60_000, this.idleMs / 20);
    this.attributes = { sameSite: config.sameSite };
  }

  async establish(req: IncomingMessage, res: ServerResponse, userId: string): Promise<EstablishedSession> {
    checkUserId(userId);
    // Login CSRF: a cross-site page must not sign the browser into an account of the attacker's choosing.
    const refusal = this.options.origins.check(req);
    if (refusal) throw refusal.error;
    // A session presented with the login (planted by an attacker, or an older one) never survives it.
    const presented = this.current() ?? (await this.fromCookie(req));
    if (presented) await this.options.store.remove(presented);
    const value = randomBytes(32).toString('base64url');
    const now = Date.now();
    const record: SessionRecord = {
      ref: hashOf(value),
      id: randomBytes(16).toString('base64url'),
      kind: 'cookie',
      userId,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.absoluteMs,
      ...clientOf(req),
    };
    await this.options.store.create(record, this.retainUntil(record));
    await this.enforceLimit(userId);
    appendSetCookie(res, serializeCookie(this.options.config.cookieName, value, this.attributes));
    const csrfToken = this.options.csrf.issue(req, res, record.ref, false);
    currentContext()?.set(kCurrent, record);
    return {
      id: record.id,
      csrfToken,
      expiresAt: new Date(record.expiresAt).toISOString(),
      idleTimeoutSeconds: this.options.config.idleTimeoutSeconds,
    };
  }

  async register(session: {
    readonly id: string;
    readonly userId: string;
    readonly ttlSeconds: number;
    readonly ip?: string;
    readonly userAgent?: string;
  }): Promise<void> {
    checkUserId(session.userId);
    if (typeof session.id !== 'string' || !SESSION_ID.test(session.id))
      throw SessionsErrors.ARGUMENT_INVALID(
        'register() needs a session id of 1-128 letters, digits, ".", "_", ":" or "-"',
      );
    if (!Number.isInteger(session.ttlSeconds) || session.ttlSeconds < 1)
      throw SessionsErrors.ARGUMENT_INVALID(
        `register() needs ttlSeconds as a positive integer, got ${String(session.ttlSeconds)}`,
      );
    const now = Date.now();
    const ttlMs = session.ttlSeconds * 1000;
    const record: SessionRecord = {
      ref: `t.${session.id}`,
      id: session.id,
      kind: 'token',
      userId: session.userId,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + ttlMs,
      ttlMs,
      ...(session.ip ? { ip: session.ip } : {}),
      ...(session.userAgent ? { userAgent: session.userAgent.slice(0, MAX_USER_AGENT) } : {}),
    };
    await this.options.store.create(record, this.retainUntil(record));
    await this.enforceLimit(session.userId);
  }

  async touch(id: string): Promise<void> {
    const record = await this.byId(id);
    if (record?.kind !== 'token' || record.ttlMs === undefined || this.ended(record, Date.now())) return;
    // A token login lives as long as its refresh tokens: each rotation gives it its full lifetime again.
    const now = Date.now();
    const touched: SessionRecord = { ...record, lastSeenAt: now, expiresAt: now + record.ttlMs };
    await this.options.store.update(touched, this.retainUntil(touched));
  }

  async destroyCurrent(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record = this.current() ?? (await this.fromCookie(req));
    if (record) await this.options.store.remove(record);
    currentContext()?.set(kCurrent, undefined);
    this.clearCookies(res);
  }

  async revoke(userId: string, id: string): Promise<boolean> {
    const record = await this.byId(id);
    if (!record || record.userId !== userId) return false;
    if (this.ended(record, Date.now())) {
      await this.options.store.remove(record);
      return false;
    }
    return this.revokeRecord(record);
  }

  async revokeUser(userId: string): Promise<number> {
    let revoked = 0;
    for (const record of await this.liveSessions(userId)) if (await this.revokeRecord(record)) revoked++;
    return revoked;
  }

  async list(userId: string, currentId?: string): Promise<SessionView[]> {
    return (await this.liveSessions(userId)).map((r) => ({ ...describe(r), current: r.id === currentId }));
  }

  onRevoke(listener: SessionRevokedListener): void {
    this.listeners.push(listener);
  }

  /**
   * Checks a session cookie: live (and its idle expiry slid), ended by a timeout (then deleted), or
   * unknown. Malformed values are refused without a store lookup.
   */
  async authenticate(cookieValue: string): Promise<Authentication> {
    if (!COOKIE_VALUE.test(cookieValue)) return { status: 'invalid' };
    const record = await this.options.store.get(hashOf(cookieValue));
    if (record?.kind !== 'cookie') return { status: 'invalid' };
    const now = Date.now();
    const ended = this.ended(record, now);
    if (ended) {
      await this.options.store.remove(record);
      return { status: 'expired', reason: ended };
    }
    if (now - record.lastSeenAt < this.touchEveryMs) return { status: 'live', record };
    const touched: SessionRecord = { ...record, lastSeenAt: now };
    await this.options.store.update(touched);
    return { status: 'live', record: touched };
  }

  async authenticateCookie(
    cookieHeader: string | undefined,
  ): Promise<{ readonly userId: string; readonly sessionId: string } | undefined> {
    const value = readCookie(cookieHeader, this.options.config.cookieName);
    if (value === undefined) return undefined;
    const outcome = await this.authenticate(value);
    return outcome.status === 'live' ? { userId: outcome.record.userId, sessionId: outcome.record.id } : undefined;
  }

  /** Marks `record` as the session of the current request (see {@link current}). */
  attach(record: SessionRecord): void {
    currentContext()?.set(kCurrent, record);
  }

  /** The cookie session the current request was authenticated with (or established), if any. */
  current(): SessionRecord | undefined {
    return currentContext()?.get<SessionRecord>(kCurrent);
  }

  /** A CSRF token for `record`, its cookie appended to `res` (the one the request carries, when still valid). */
  csrfToken(req: IncomingMessage, res: ServerResponse, record: SessionRecord): string {
    return this.options.csrf.issue(req, res, record.ref, true);
  }

  /** True when the request carries the CSRF token of `record`. */
  csrfValid(req: IncomingMessage, record: SessionRecord): boolean {
    return this.options.csrf.valid(req, record.ref);
  }

  /** Appends Set-Cookie headers deleting the session and CSRF cookies. */
  clearCookies(res: ServerResponse): void {
    appendSetCookie(res, clearingCookie(this.options.config.cookieName, this.attributes));
    this.options.csrf.clear(res);
  }

  /** Which timeout ended the session, if one did. */
  private ended(record: SessionRecord, now: number): 'idle' | 'absolute' | undefined {
    if (now >= record.expiresAt) return 'absolute';
    if (record.kind === 'cookie' && now - record.lastSeenAt >= this.idleMs) return 'idle';
    return undefined;
  }

  private retainUntil(record: SessionRecord): number {
    return record.kind === 'cookie' ? record.expiresAt + this.idleMs : record.expiresAt;
  }

  private async fromCookie(req: IncomingMessage): Promise<SessionRecord | undefined> {
    const value = readCookie(req.headers.cookie, this.options.config.cookieName);
    if (value === undefined || !COOKIE_VALUE.test(value)) return undefined;
    return this.options.store.get(hashOf(value));
  }

  private async byId(id: string): Promise<SessionRecord | undefined> {
    if (typeof id !== 'string' || !SESSION_ID.test(id)) return undefined;
    const ref = await this.options.store.refOf(id);
    return ref === undefined ? undefined : this.options.store.get(ref);
  }

  /** A user's live sessions, newest first; index entries of gone sessions and ended records are cleaned up on the way. */
  private async liveSessions(userId: string): Promise<SessionRecord[]> {
    const { store } = this.options;
    const refs = await store.members(userId);
    const records = await store.getMany(refs);
    const now = Date.now();
    const gone: string[] = [];
    const live: SessionRecord[] = [];
    for (let i = 0; i < refs.length; i++) {
      const record = records[i];
      // A ref re-registered for another user (a reused token family id) is no longer this user's.
      if (!record || record.userId !== userId) gone.push(refs[i]!);
      else if (this.ended(record, now)) await store.remove(record);
      else live.push(record);
    }
    await store.forget(userId, gone);
    return live;
  }

  /** Past maxSessionsPerUser, the oldest sessions are revoked (listeners told, so token families die too). */
  private async enforceLimit(userId: string): Promise<void> {
    const max = this.options.config.maxSessionsPerUser;
    if ((await this.options.store.members(userId)).length <= max) return;
    for (const record of (await this.liveSessions(userId)).slice(max)) await this.revokeRecord(record);
  }

  /**
   * Tells the listeners, then deletes. A listener that throws stops the revocation with the session
   * still in place, so the caller can retry (a token family is never left alive behind a deleted entry).
   */
  private async revokeRecord(record: SessionRecord): Promise<boolean> {
    const view = describe(record);
    for (const listener of this.listeners) await listener(view);
    return this.options.store.remove(record);
  }
}

/** SHA-256 of a cookie value: the store key, so a leaked store never yields a usable cookie. */
function hashOf(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

function checkUserId(userId: string): void {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID)
    throw SessionsErrors.ARGUMENT_INVALID(`a session needs a user id of 1-${MAX_USER_ID} characters`);
}

/** Client IP (express's `req.ip`, which honours trust proxy) and User-Agent, for the owner's session list. */
function clientOf(req: IncomingMessage): { ip?: string; userAgent?: string } {
  const expressIp = (req as { ip?: unknown }).ip;
  const ip = typeof expressIp === 'string' ? expressIp : req.socket?.remoteAddress;
  const userAgent = req.headers['user-agent'];
  return { ...(ip ? { ip } : {}), ...(userAgent ? { userAgent: userAgent.slice(0, MAX_USER_AGENT) } : {}) };
}

/** The owner's view of a session: never its store key or cookie. */
function describe(r: SessionRecord): Omit<SessionView, 'current'> {
  return {
    id: r.id,
    kind: r.kind,
    userId: r.userId,
    createdAt: new Date(r.createdAt).toISOString(),
    lastSeenAt: new Date(r.lastSeenAt).toISOString(),
    expiresAt: new Date(r.expiresAt).toISOString(),
    ...(r.ip !== undefined ? { ip: r.ip } : {}),
    ...(r.userAgent !== undefined ? { userAgent: r.userAgent } : {}),
  };
}
