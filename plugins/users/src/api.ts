import type { RouteReply, RouteRequest } from '@gantry/core';

/** Account states. */
export type UserStatus = 'active' | 'disabled';

/** An account as every route returns it: never the password hash. */
export interface UserView {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly emailVerified: boolean;
  readonly status: UserStatus;
  readonly roles: readonly string[];
  /** ISO 8601 UTC. */
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** An account as other plugins read it (still no hash: use {@link Users.verifyPassword}). */
export interface UserRecord {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly emailVerified: boolean;
  readonly status: UserStatus;
  /** False for accounts created by an OAuth sign-in that never set a password. */
  readonly hasPassword: boolean;
}

/** How a sign-in hands over credentials: tokens in the body (API clients) or a session cookie (browsers). */
export type LoginMode = 'token' | 'session';

/** The sign-in in progress, as login steps and completeLogin see it. */
export interface LoginAttempt {
  readonly mode: LoginMode;
  /** How the first factor was proven: 'password', 'oauth:<provider>'. */
  readonly method: string;
}

/**
 * A step between the first factor and the tokens (e.g. MFA): returns undefined to let the sign-in go
 * on, or a body to answer 200 with instead (e.g. `{ mfaRequired: true, mfaToken }`); the step's
 * plugin later finishes the sign-in with {@link Users.completeLogin}.
 */
export interface LoginStep {
  readonly name: string;
  run(user: UserRecord, attempt: LoginAttempt): Promise<Readonly<Record<string, unknown>> | undefined>;
}

/** What a finished sign-in answers: the token pair, or the session's expiry and CSRF token. */
export type LoginResult =
  | {
      readonly accessToken: string;
      readonly refreshToken: string;
      readonly expiresIn: number;
      readonly tokenType: 'Bearer';
    }
  | {
      readonly session: { readonly expiresAt: string; readonly idleTimeoutSeconds: number };
      readonly csrfToken: string;
      readonly user: UserView;
    };

/** Accounts: lookups for other plugins, and the sign-in pipeline they extend. */
export interface Users {
  findById(id: string): Promise<UserRecord | undefined>;
  findByEmail(email: string): Promise<UserRecord | undefined>;
  /** Checks an account's password (false when it has none); the time does not depend on the outcome. */
  verifyPassword(userId: string, password: string): Promise<boolean>;
  /** The view of an account (roles included) as the HTTP routes return it. */
  view(userId: string): Promise<UserView>;
  /**
   * For external sign-ins (OAuth/OIDC): the account with this email when the provider verified it,
   * created (verified, no password, role "user") when none exists. An existing account whose own email
   * is not verified yet is never linked (someone else may have registered the address):
   * 409 is thrown by the caller's choice of error — this returns `{ refused: 'unverified-account' }`.
   */
  linkOrCreateVerified(input: {
    readonly email: string;
    readonly name: string;
  }): Promise<
    { readonly user: UserRecord; readonly created: boolean } | { readonly refused: 'unverified-account' | 'disabled' }
  >;
  /** Adds a step to every sign-in (register-time only), run in the order added. */
  addLoginStep(step: LoginStep): void;
  /** Runs the login steps after a proven first factor; returns a step's interruption or finishes the sign-in. */
  continueLogin(
    user: UserRecord,
    attempt: LoginAttempt,
    req: RouteRequest,
    reply: RouteReply,
  ): Promise<Readonly<Record<string, unknown>> | LoginResult>;
  /**
   * Finishes a sign-in whose factors are all proven: issues tokens (mode 'token') or opens a cookie
   * session (mode 'session'), records `auth.login` in the audit trail, sends the new-login notice.
   */
  completeLogin(user: UserRecord, attempt: LoginAttempt, req: RouteRequest, reply: RouteReply): Promise<LoginResult>;
  /** Creates the account when no account has this email (seeding): verified, with the given roles. */
  ensureAccount(input: {
    readonly email: string;
    readonly password: string;
    readonly name: string;
    readonly roles: readonly string[];
  }): Promise<{ readonly user: UserRecord; readonly created: boolean }>;
}
