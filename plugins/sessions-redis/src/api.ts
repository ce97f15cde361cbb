import type { IncomingMessage, ServerResponse } from 'node:http';

/** How a session was opened: a browser cookie, or a token login (a refresh-token family) listed alongside. */
export type SessionKind = 'cookie' | 'token';

/** A session as its owner (or an admin) sees it: never the cookie value. */
export interface SessionView {
  /** Public id: the handle for listing and revoking, never the cookie value. */
  readonly id: string;
  readonly kind: SessionKind;
  readonly userId: string;
  /** ISO 8601 UTC. */
  readonly createdAt: string;
  readonly lastSeenAt: string;
  /** When the session ends at the latest (absolute timeout), ISO 8601 UTC. */
  readonly expiresAt: string;
  readonly ip?: string;
  readonly userAgent?: string;
  /** True on the session the current request came with. */
  readonly current: boolean;
}

/** What a new cookie session hands back to the login route. */
export interface EstablishedSession {
  readonly id: string;
  /** The CSRF token the client sends back in the `x-csrf-token` header on unsafe cookie-authenticated requests. */
  readonly csrfToken: string;
  /** Absolute expiry, ISO 8601 UTC. */
  readonly expiresAt: string;
  /** Idle timeout in seconds. */
  readonly idleTimeoutSeconds: number;
}

/** Called when a session is revoked (by its owner, an admin, or revokeUser), e.g. to revoke a token family. */
export type SessionRevokedListener = (session: Omit<SessionView, 'current'>) => Promise<void> | void;

/**
 * Cookie sessions for browser clients, and the per-user registry of every session (cookie sessions and
 * token logins) behind `GET /auth/sessions`.
 */
export interface Sessions {
  /**
   * Opens a cookie session for `userId` after a successful login: any session presented with the request
   * (a planted or older id) is destroyed first, a new id is generated, and the `__Host-` cookie is set on `res`.
   * A cross-site request (Fetch Metadata or a foreign Origin, as for every cookie request) is refused with
   * 403 GANTRY_SESSIONS_REDIS_CROSS_SITE_REQUEST / ORIGIN_NOT_ALLOWED: a foreign page cannot sign the browser in.
   */
  establish(req: IncomingMessage, res: ServerResponse, userId: string): Promise<EstablishedSession>;
  /** Records a token login (refresh family `id`) so it is listed and revocable like a cookie session. */
  register(session: {
    readonly id: string;
    readonly userId: string;
    readonly ttlSeconds: number;
    readonly ip?: string;
    readonly userAgent?: string;
  }): Promise<void>;
  /** Marks a token login as seen now (on refresh). Unknown ids are ignored. */
  touch(id: string): Promise<void>;
  /**
   * The live cookie session a `Cookie` header names, for transports other than HTTP routes (a WebSocket
   * upgrade): its user and public id, or undefined when there is no such cookie or it names no live
   * session. Slides the idle expiry like a request would. The caller checks the Origin first: a cookie
   * travels with cross-site requests.
   */
  authenticateCookie(
    cookieHeader: string | undefined,
  ): Promise<{ readonly userId: string; readonly sessionId: string } | undefined>;
  /** Ends the session the request came with (logout): deletes it and clears the cookie. */
  destroyCurrent(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Revokes one session of a user by its public id; false when the user has no such session. */
  revoke(userId: string, id: string): Promise<boolean>;
  /** Revokes every session of a user (password change, account disable, admin kill); returns how many. */
  revokeUser(userId: string): Promise<number>;
  /** Every live session of a user, newest first. */
  list(userId: string, currentId?: string): Promise<SessionView[]>;
  /** Adds a listener called for each revoked session (register-time only). */
  onRevoke(listener: SessionRevokedListener): void;
}
