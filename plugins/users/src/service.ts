import { randomUUID } from 'node:crypto';
import { GantryError, runDetached, type Logger, type RouteReply, type RouteRequest } from '@gantry/core';
import type { Audit, AuditRecordInput } from '@gantry/plugin-audit';
import type { TokenService } from '@gantry/plugin-auth-jwt';
import {
  LockMode,
  UniqueConstraintViolationException,
  type Database,
  type SqlEntityManager,
} from '@gantry/plugin-database';
import type { Mailer } from '@gantry/plugin-mailer';
import { ADMIN_ROLE, RbacErrors, SubjectRoleEntity, USER_ROLE, type Rbac } from '@gantry/plugin-rbac';
import type { Sessions } from '@gantry/plugin-sessions-redis';
import type { LoginAttempt, LoginResult, LoginStep, UserRecord, Users, UserStatus, UserView } from './api.js';
import type { UsersConfig } from './config.js';
import { UserEntity, type UserRow } from './entity.js';
import { UsersErrors } from './errors.js';
import type { UserEvents } from './events.js';
import { OneTimeTokens } from './one-time-tokens.js';
import type { PasswordHasher, PasswordPolicy } from './passwords.js';

/** What {@link UsersService} needs. */
export interface UsersServiceOptions {
  readonly db: Database;
  readonly config: UsersConfig;
  readonly hasher: PasswordHasher;
  readonly policy: PasswordPolicy;
  readonly tokens: TokenService;
  readonly mailer: Mailer;
  readonly audit: Audit;
  readonly rbac: Rbac;
  readonly sessions: Sessions | undefined;
  readonly logger: Logger;
  /** Account events (through kafka-events' outbox when enabled). */
  readonly events: UserEvents;
}

/** Lookup key of an email address: case-insensitive, otherwise exact. */
export function emailKey(email: string): string {
  return email.toLowerCase();
}

/** What {@link UsersService.signUp} did, for the route to pass on: the same shape whether or not the address was taken. */
export interface SignUpOutcome {
  /** The 201 body: a new account's view, or one shaped like it (random id) when the address has an account. */
  readonly view: UserView;
  /** The audit entry to record. */
  readonly audit: AuditRecordInput;
  /** Name and work of the mail sent after the response: the verification link, or the account-exists notice. */
  readonly mail: { readonly name: string; readonly send: () => Promise<void> };
}

/** Fields an account update may change. */
export interface AccountChanges {
  readonly name?: string;
  readonly status?: UserStatus;
  readonly emailVerified?: boolean;
}

/** The {@link Users} implementation, plus what the plugin's own routes need. */
export class UsersService implements Users {
  private readonly steps: LoginStep[] = [];
  readonly oneTime = new OneTimeTokens();

  /** Account events (a no-op without kafka-events). */
  get events(): UserEvents {
    return this.o.events;
  }
  /** Mails sent after the response (forgot-password): awaited at stop so none is cut. */
  private readonly background = new Set<Promise<void>>();

  constructor(private readonly o: UsersServiceOptions) {}

  // ---- lookups ---------------------------------------------------------------------------

  async findById(id: string): Promise<UserRecord | undefined> {
    const row = await this.row(id);
    return row ? toRecord(row) : undefined;
  }

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    const row = await this.rowByEmail(email);
    return row ? toRecord(row) : undefined;
  }

  /** The stored row (hash included): for this plugin only. */
  async row(id: string): Promise<UserRow | undefined> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
    return (
      (await this.guard(() => this.o.db.em().findOne(UserEntity, { id }, { disableIdentityMap: true }))) ?? undefined
    );
  }

  async rowByEmail(email: string): Promise<UserRow | undefined> {
    return (
      (await this.guard(() =>
        this.o.db.em().findOne(UserEntity, { emailKey: emailKey(email) }, { disableIdentityMap: true }),
      )) ?? undefined
    );
  }

  async verifyPassword(userId: string, password: string): Promise<boolean> {
    const row = await this.row(userId);
    if (!row?.passwordHash) return this.o.hasher.verifyNothing(password);
    return this.o.hasher.verify(row.passwordHash, password);
  }

  async view(userId: string): Promise<UserView> {
    const row = await this.row(userId);
    if (!row) throw UsersErrors.NOT_FOUND(`no user has id ${JSON.stringify(userId)}`);
    return this.viewOf(row);
  }

  async viewOf(row: UserRow): Promise<UserView> {
    const roles = await this.o.rbac.rolesOf(row.id);
    return {
      id: row.id,
      email: row.email,
      name: row.name,
      emailVerified: row.emailVerifiedAt != null,
      status: row.status as UserStatus,
      roles,
      createdAt: new Date(row.createdAt).toISOString(),
      updatedAt: new Date(row.updatedAt).toISOString(),
    };
  }

  // ---- accounts --------------------------------------------------------------------------

  /**
   * Creates an account (password checked against the policy, hashed with argon2id) and grants its roles.
   * Throws 409 GANTRY_USERS_EMAIL_TAKEN when the address is used; the sign-up route hides that.
   */
  async create(input: {
    email: string;
    password: string | undefined;
    name: string;
    verified: boolean;
    roles: readonly string[];
  }): Promise<UserRow> {
    if (input.password !== undefined) this.o.policy.check(input.password, input.email);
    const passwordHash = input.password === undefined ? null : await this.o.hasher.hash(input.password);
    const now = new Date();
    const row = {
      id: randomUUID(),
      email: input.email,
      emailKey: emailKey(input.email),
      emailVerifiedAt: input.verified ? now : null,
      name: input.name,
      passwordHash,
      passwordChangedAt: passwordHash ? now : null,
      status: 'active',
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.o.db.transaction(async (em) => {
        if ((await em.count(UserEntity, { emailKey: row.emailKey })) > 0)
          throw UsersErrors.EMAIL_TAKEN(`an account already uses this email address`);
        await em.insert(UserEntity, row);
      });
    } catch (err) {
      if (GantryError.is(err)) throw err;
      // A concurrent insert won the unique index.
      if (err instanceof UniqueConstraintViolationException)
        throw UsersErrors.EMAIL_TAKEN('an account already uses this email address');
      throw UsersErrors.UNAVAILABLE('the account could not be stored', { cause: err });
    }
    for (const role of input.roles) await this.o.rbac.grant(row.id, role);
    return row as UserRow;
  }

  async ensureAccount(input: {
    email: string;
    password: string;
    name: string;
    roles: readonly string[];
  }): Promise<{ user: UserRecord; created: boolean }> {
    const existing = await this.rowByEmail(input.email);
    if (existing) return { user: toRecord(existing), created: false };
    const row = await this.create({ ...input, verified: true });
    return { user: toRecord(row), created: true };
  }

  async linkOrCreateVerified(input: {
    email: string;
    name: string;
  }): Promise<{ user: UserRecord; created: boolean } | { refused: 'unverified-account' | 'disabled' }> {
    const existing = await this.rowByEmail(input.email);
    if (existing) {
      if (existing.emailVerifiedAt == null) return { refused: 'unverified-account' };
      if (existing.status !== 'active') return { refused: 'disabled' };
      return { user: toRecord(existing), created: false };
    }
    try {
      const row = await this.create({
        email: input.email,
        password: undefined,
        name: input.name.slice(0, 100) || input.email.split('@')[0]!,
        verified: true,
        roles: [USER_ROLE],
      });
      await this.record({
        action: 'auth.signup',
        outcome: 'success',
        actor: { id: row.id, kind: 'user' },
        object: userObject(row.id),
        details: { method: 'external' },
      });
      return { user: toRecord(row), created: true };
    } catch (err) {
      if (!UsersErrors.EMAIL_TAKEN.is(err)) throw err;
      return this.linkOrCreateVerified(input);
    }
  }

  /** Applies changes; disabling an account revokes every token and session it has. */
  async update(id: string, changes: AccountChanges): Promise<UserRow> {
    const row = await this.row(id);
    if (!row) throw UsersErrors.NOT_FOUND(`no user has id ${JSON.stringify(id)}`);
    const set: { updatedAt: Date; name?: string; status?: string; emailVerifiedAt?: Date | null } = {
      updatedAt: new Date(),
    };
    if (changes.name !== undefined) set.name = changes.name;
    if (changes.status !== undefined) set.status = changes.status;
    if (changes.emailVerified === true && row.emailVerifiedAt == null) set.emailVerifiedAt = new Date();
    if (changes.emailVerified === false) set.emailVerifiedAt = null;
    if (changes.status === 'disabled' && row.status === 'active') {
      // Disabling an administrator needs another active one, checked and written under one lock.
      const admins = await this.o.rbac.holders(ADMIN_ROLE);
      await this.guard(() =>
        this.o.db.transaction(async (em) => {
          await this.assertAnotherActiveAdmin(em, id, admins);
          await em.nativeUpdate(UserEntity, { id }, set);
          await this.o.events.publish('users.disabled', { userId: id }, em);
        }),
      );
    } else await this.guard(() => this.o.db.em().nativeUpdate(UserEntity, { id }, set));
    if (changes.status === 'disabled' && row.status !== 'disabled') await this.revokeEverything(id);
    return { ...row, ...set } as UserRow;
  }

  /** Deletes an account, its roles, tokens and sessions (the last active admin cannot be deleted). */
  async remove(id: string): Promise<void> {
    const row = await this.row(id);
    if (!row) throw UsersErrors.NOT_FOUND(`no user has id ${JSON.stringify(id)}`);
    await this.assertNotLastActiveAdmin(id);
    await this.o.rbac.setRoles(id, []);
    await this.revokeEverything(id);
    await this.guard(() => this.o.db.em().nativeDelete(UserEntity, { id }));
  }

  /** 409 GANTRY_RBAC_LAST_ADMIN when `id` is an administrator and no other administrator's account is active (before taking its role). */
  async assertNotLastActiveAdmin(id: string): Promise<void> {
    const admins = await this.o.rbac.holders(ADMIN_ROLE);
    if (admins.includes(id))
      await this.guard(() => this.o.db.transaction((em) => this.assertAnotherActiveAdmin(em, id, admins)));
  }

  /**
   * When `id` is an administrator, throws 409 GANTRY_RBAC_LAST_ADMIN unless another administrator's
   * account is active. On PostgreSQL the active administrators' rows are locked (FOR UPDATE) until the
   * caller's transaction ends, so two administrators disabled at once cannot both pass.
   */
  private async assertAnotherActiveAdmin(em: SqlEntityManager, id: string, admins: readonly string[]): Promise<void> {
    // `admins` is read before the transaction: rbac reads through the request's own EntityManager,
    // which would wait for this transaction's connection on SQLite (one connection).
    if (!admins.includes(id)) return;
    // Every administrator's row, the target's included, locked in one order: two such transactions
    // queue on the first row instead of each holding a row the other one then writes (a deadlock).
    const where = { id: { $in: admins }, status: 'active' };
    const active =
      this.o.db.driver === 'postgresql'
        ? (
            await em.find(UserEntity, where, {
              lockMode: LockMode.PESSIMISTIC_WRITE,
              orderBy: { id: 'asc' },
              disableIdentityMap: true,
            })
          ).map((r) => r.id)
        : (await em.find(UserEntity, where, { disableIdentityMap: true })).map((r) => r.id);
    if (!active.some((a) => a !== id)) throw RbacErrors.LAST_ADMIN('this account is the last active administrator');
  }

  /** Sets a new password (policy checked) and ends every token and session of the account. */
  async setPassword(id: string, password: string): Promise<void> {
    const row = await this.row(id);
    if (!row) throw UsersErrors.NOT_FOUND(`no user has id ${JSON.stringify(id)}`);
    this.o.policy.check(password, row.email);
    await this.guard(() => this.storePassword(this.o.db.em(), id, password));
    await this.revokeEverything(id);
  }

  /** Hashes and stores a password already checked against the policy (inside the caller's transaction). */
  async storePassword(em: SqlEntityManager, id: string, password: string): Promise<void> {
    const hash = await this.o.hasher.hash(password);
    const now = new Date();
    await em.nativeUpdate(UserEntity, { id }, { passwordHash: hash, passwordChangedAt: now, updatedAt: now });
  }

  /** Throws 400 GANTRY_USERS_PASSWORD_WEAK when the policy refuses the password. */
  checkPolicy(password: string, email: string): void {
    this.o.policy.check(password, email);
  }

  /**
   * Self-service sign-up. Its duration must not tell whether the address has an account, so both cases
   * run the same steps and statements in the same order: the policy check, one argon2id hash, then one
   * transaction that reads the account by address; inserts an account and its user role in a savepoint;
   * and issues a one-time token (DELETE of the older one, INSERT). For a new address the savepoint is
   * kept and the token is the verification link. For a taken one the inserted rows are a stand-in (its
   * own id and key) rolled back to the savepoint, and the token is the reset link of the account-exists
   * notice. No other read or write: the view is built here (no roles query), the audit entry is one
   * insert in both cases, and the mail goes out after the response.
   */
  async signUp(input: { email: string; password: string; name: string }): Promise<SignUpOutcome> {
    this.o.policy.check(input.password, input.email);
    const passwordHash = await this.o.hasher.hash(input.password);
    const now = new Date();
    const row: UserRow = {
      id: randomUUID(),
      email: input.email,
      emailKey: emailKey(input.email),
      emailVerifiedAt: null,
      name: input.name,
      passwordHash,
      passwordChangedAt: now,
      status: 'active',
      createdAt: now,
      updatedAt: now,
    };
    const write = () =>
      this.o.db.transaction(async (em) => {
        // Plain columns, not an entity: materialising one costs about what finding nothing does.
        const existing = await em
          .createQueryBuilder(UserEntity)
          .select(['id', 'email', 'status'])
          .where({ emailKey: row.emailKey })
          .limit(1)
          .execute<Pick<UserRow, 'id' | 'email' | 'status'> | undefined>('get');
        const account = existing ? { ...row, emailKey: `${row.id}:stand-in` } : row;
        await em
          .transactional(async (savepoint) => {
            await savepoint.insert(UserEntity, account);
            // The role in the account's own transaction: an account never exists without it. The id is
            // new, so no rbac cache (here or on another instance) can hold it: there is nothing to forget.
            await savepoint.insert(SubjectRoleEntity, { subjectId: account.id, role: USER_ROLE });
            if (existing) throw STAND_IN;
          })
          .catch((err: unknown) => {
            if (err !== STAND_IN) throw err;
          });
        const token = existing
          ? await this.oneTime.issue(em, existing.id, 'reset-password', this.o.config.resetTokenTtlSeconds)
          : await this.oneTime.issue(em, row.id, 'verify-email', this.o.config.verifyTokenTtlSeconds);
        if (!existing)
          await this.o.events.publish('users.signed-up', { userId: row.id, email: row.email, name: row.name }, em);
        return { existing, token };
      });
    let written: Awaited<ReturnType<typeof write>>;
    try {
      written = await write();
    } catch (err) {
      if (!(err instanceof UniqueConstraintViolationException)) {
        throw GantryError.is(err) ? err : UsersErrors.UNAVAILABLE('the account could not be stored', { cause: err });
      }
      // A concurrent sign-up with this address committed first: now it is a taken address, answered as such.
      written = await this.guard(write);
    }
    const { existing, token } = written;
    const at = now.toISOString();
    // A taken address answers with a view shaped like a new account's: what was typed, a random id.
    const view = (id: string): UserView => {
      return {
        id,
        email: input.email,
        name: input.name,
        emailVerified: false,
        status: 'active',
        roles: [USER_ROLE],
        createdAt: at,
        updatedAt: at,
      };
    };
    if (existing) {
      return {
        view: view(randomUUID()),
        audit: {
          action: 'auth.signup',
          outcome: 'failure',
          object: userObject(existing.id),
          details: { reason: 'email-taken' },
        },
        mail: { name: 'account-exists notice', send: () => this.sendAccountExists(existing, token) },
      };
    }
    return {
      view: view(row.id),
      audit: {
        action: 'auth.signup',
        outcome: 'success',
        actor: { id: row.id, kind: 'user' },
        object: userObject(row.id),
        details: { method: 'password' },
      },
      mail: { name: 'verification mail', send: () => this.mailVerification(row, token) },
    };
  }

  /** A page of accounts, oldest first. */
  async list(query: {
    limit?: number;
    cursor?: string;
    email?: string;
    status?: UserStatus;
  }): Promise<{ items: UserView[]; nextCursor?: string }> {
    const limit = query.limit ?? 50;
    const where: Record<string, unknown>[] = [];
    if (query.email !== undefined) where.push({ emailKey: emailKey(query.email) });
    if (query.status !== undefined) where.push({ status: query.status });
    if (query.cursor !== undefined) {
      const after = decodeCursor(query.cursor);
      where.push({ $or: [{ createdAt: { $gt: after.t } }, { createdAt: after.t, id: { $gt: after.id } }] });
    }
    const rows = await this.guard(() =>
      this.o.db.em().find(UserEntity, where.length ? { $and: where } : {}, {
        orderBy: { createdAt: 'asc', id: 'asc' },
        limit: limit + 1,
        disableIdentityMap: true,
      }),
    );
    const page = rows.slice(0, limit);
    const items = await Promise.all(page.map((r) => this.viewOf(r)));
    const last = page.at(-1);
    return rows.length > limit && last
      ? { items, nextCursor: encodeCursor(new Date(last.createdAt), last.id) }
      : { items };
  }

  /** Every access/refresh token (all instances, through the token store) and every session of the account. */
  async revokeEverything(id: string): Promise<void> {
    await this.o.tokens.revokeSubject(id);
    await this.o.sessions?.revokeUser(id);
  }

  // ---- sign-in ---------------------------------------------------------------------------

  addLoginStep(step: LoginStep): void {
    this.steps.push(step);
  }

  /**
   * Checks email and password. Unknown email and wrong password take the same time (a dummy argon2
   * verification) and give the same 401; the account state is told only after a correct password.
   */
  async checkPassword(email: string, password: string): Promise<UserRow> {
    const row = await this.rowByEmail(email);
    const ok = row?.passwordHash
      ? await this.o.hasher.verify(row.passwordHash, password)
      : await this.o.hasher.verifyNothing(password);
    if (!row || !ok) {
      await this.record({
        action: 'auth.login',
        outcome: 'failure',
        ...(row ? { actor: { id: row.id, kind: 'user' }, object: userObject(row.id) } : {}),
        details: { email, reason: 'invalid-credentials' },
      });
      throw UsersErrors.INVALID_CREDENTIALS('email or password is wrong');
    }
    if (row.status !== 'active') {
      await this.record({
        action: 'auth.login',
        outcome: 'denied',
        actor: { id: row.id, kind: 'user' },
        object: userObject(row.id),
        details: { reason: 'disabled' },
      });
      throw UsersErrors.ACCOUNT_DISABLED('this account is disabled');
    }
    if (this.o.config.requireVerifiedEmail && row.emailVerifiedAt == null) {
      await this.record({
        action: 'auth.login',
        outcome: 'denied',
        actor: { id: row.id, kind: 'user' },
        object: userObject(row.id),
        details: { reason: 'email-not-verified' },
      });
      throw UsersErrors.EMAIL_NOT_VERIFIED('verify the email address first: open the link in the verification mail');
    }
    if (this.o.hasher.needsRehash(row.passwordHash!)) {
      // Parameters were raised: the plaintext is at hand only now, so the hash is upgraded now.
      const hash = await this.o.hasher.hash(password);
      await this.guard(() =>
        this.o.db.em().nativeUpdate(UserEntity, { id: row.id, passwordHash: row.passwordHash }, { passwordHash: hash }),
      );
    }
    return row;
  }

  async continueLogin(
    user: UserRecord,
    attempt: LoginAttempt,
    req: RouteRequest,
    reply: RouteReply,
  ): Promise<Readonly<Record<string, unknown>> | LoginResult> {
    if (attempt.mode === 'session' && !this.o.sessions)
      throw UsersErrors.SESSIONS_DISABLED('"session": true needs the sessions-redis plugin');
    for (const step of this.steps) {
      const interruption = await step.run(user, attempt);
      if (interruption !== undefined) return interruption;
    }
    return this.completeLogin(user, attempt, req, reply);
  }

  async completeLogin(
    user: UserRecord,
    attempt: LoginAttempt,
    req: RouteRequest,
    reply: RouteReply,
  ): Promise<LoginResult> {
    const ip = req.ip;
    const userAgent =
      typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'].slice(0, 300) : undefined;
    let result: LoginResult;
    let sessionKind: string;
    if (attempt.mode === 'session') {
      const sessions = this.o.sessions;
      if (!sessions) throw UsersErrors.SESSIONS_DISABLED('"session": true needs the sessions-redis plugin');
      const established = await sessions.establish(req.raw, reply.raw, user.id);
      result = {
        session: { expiresAt: established.expiresAt, idleTimeoutSeconds: established.idleTimeoutSeconds },
        csrfToken: established.csrfToken,
        user: await this.view(user.id),
      };
      sessionKind = 'cookie';
    } else {
      const pair = await this.o.tokens.issuePair(user.id);
      await this.o.sessions?.register({
        id: pair.sessionId,
        userId: user.id,
        ttlSeconds: pair.refreshExpiresIn,
        ...(ip ? { ip } : {}),
        ...(userAgent ? { userAgent } : {}),
      });
      result = {
        accessToken: pair.accessToken,
        refreshToken: pair.refreshToken,
        expiresIn: pair.expiresIn,
        tokenType: pair.tokenType,
      };
      sessionKind = 'token';
    }
    await this.record({
      action: 'auth.login',
      outcome: 'success',
      actor: { id: user.id, kind: 'user' },
      object: userObject(user.id),
      details: { method: attempt.method, via: sessionKind },
    });
    await this.o.events.publish('users.logged-in', { userId: user.id, method: attempt.method });
    if (this.o.config.newLoginNotice) {
      await this.o.mailer
        .send({
          to: user.email,
          template: 'new-login',
          data: {
            name: mailName(user.name, user.emailVerified),
            when: new Date(),
            ip: ip ?? 'unknown',
            userAgent: userAgent ?? 'unknown',
          },
        })
        .catch((err: unknown) =>
          this.o.logger.warn({ err: errorCode(err), userId: user.id }, 'new-login notice not sent'),
        );
    }
    return result;
  }

  // ---- mails -----------------------------------------------------------------------------

  // Whoever signs up chooses the name and the address: until the address is verified, its owner may
  // not be the one who typed the name, so mails to it greet without it (a "name" can be an advert or a
  // link). The verification mail and the account-exists notice never carry one.

  /** Issues a verification token and mails the link. */
  async sendVerification(row: Pick<UserRow, 'id' | 'email'>): Promise<void> {
    const raw = await this.guard(() =>
      this.o.db.transaction((em) =>
        this.oneTime.issue(em, row.id, 'verify-email', this.o.config.verifyTokenTtlSeconds),
      ),
    );
    await this.mailVerification(row, raw);
  }

  private async mailVerification(row: Pick<UserRow, 'email'>, token: string): Promise<void> {
    const link = this.o.mailer.link(this.o.config.verifyPath, { token });
    await this.o.mailer.send({ to: row.email, template: 'verify-email', data: { name: '', link } });
  }

  async sendReset(row: Pick<UserRow, 'id' | 'email' | 'name' | 'emailVerifiedAt'>): Promise<void> {
    const raw = await this.guard(() =>
      this.o.db.transaction((em) =>
        this.oneTime.issue(em, row.id, 'reset-password', this.o.config.resetTokenTtlSeconds),
      ),
    );
    await this.o.mailer.send({
      to: row.email,
      template: 'password-reset',
      data: {
        name: mailName(row.name, row.emailVerifiedAt != null),
        link: this.o.mailer.link(this.o.config.resetPath, { token: raw }),
        expiresInMinutes: this.resetMinutes(),
      },
    });
  }

  /**
   * Tells the owner of an address that someone tried to sign up with it (sign-up answers as for a new
   * account); an active account's notice carries the reset link issued by the sign-up, a disabled one's none.
   */
  private async sendAccountExists(row: Pick<UserRow, 'email' | 'status'>, resetToken: string): Promise<void> {
    const reset = {
      link: this.o.mailer.link(this.o.config.resetPath, { token: resetToken }),
      expiresInMinutes: this.resetMinutes(),
      forgotLink: this.o.mailer.link(this.o.config.forgotPath),
    };
    await this.o.mailer.send({
      to: row.email,
      template: ACCOUNT_EXISTS_TEMPLATE,
      data: row.status === 'active' ? { reset } : {},
    });
  }

  private resetMinutes(): number {
    return Math.round(this.o.config.resetTokenTtlSeconds / 60);
  }

  /** Runs work after the response is sent (so its duration says nothing to the client); failures are logged. */
  later(name: string, work: () => Promise<void>): void {
    const run = runDetached(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => runDetached(work))
      .catch((err: unknown) => this.o.logger.error({ err, task: name }, 'users: background task failed'))
      .finally(() => this.background.delete(run));
    this.background.add(run);
  }

  /** Waits for background mails (stop hook). */
  async drain(): Promise<void> {
    while (this.background.size) await Promise.all([...this.background]);
  }

  /** Records an audit entry; the trail is required, so a failed write fails the action (503). */
  record(input: AuditRecordInput): Promise<unknown> {
    return this.o.audit.record(input);
  }

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (GantryError.is(err)) throw err;
      throw UsersErrors.UNAVAILABLE('accounts could not be read or written', { cause: err });
    }
  }
}

/** Thrown to roll the stand-in account of a sign-up with a taken address back to its savepoint. */
const STAND_IN = Symbol('stand-in account');

/** Template of the mail sent when someone signs up with an address that already has an account. */
export const ACCOUNT_EXISTS_TEMPLATE = 'users.account-exists';

const CURSOR = /^[A-Za-z0-9_-]{1,200}$/;

function encodeCursor(t: Date, id: string): string {
  return Buffer.from(JSON.stringify({ t: t.toISOString(), id })).toString('base64url');
}

function decodeCursor(cursor: string): { t: Date; id: string } {
  try {
    if (!CURSOR.test(cursor)) throw new Error('shape');
    const { t, id } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { t: unknown; id: unknown };
    const date = new Date(String(t));
    if (typeof id !== 'string' || Number.isNaN(date.getTime())) throw new Error('content');
    return { t: date, id };
  } catch {
    throw UsersErrors.INVALID_CURSOR('the cursor is not one this API returned');
  }
}

/** The name a mail greets with: the account's once its address is verified, else none (see the mails section). */
function mailName(name: string, verified: boolean): string {
  return verified ? name : '';
}

/** The audit object of an account. */
export function userObject(id: string): { type: 'user'; id: string } {
  return { type: 'user', id };
}

export function toRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: row.emailVerifiedAt != null,
    status: row.status as UserStatus,
    hasPassword: row.passwordHash != null,
  };
}

function errorCode(err: unknown): string {
  return (err as { code?: string })?.code ?? 'ERROR';
}
