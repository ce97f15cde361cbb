import { GantryError, type HttpRouter, type Principal, type RouteRequest } from '@gantry/core';
import { AuthJwtErrors, type TokenService } from '@gantry/plugin-auth-jwt';
import type { Database } from '@gantry/plugin-database';
import { ADMIN_ROLE, authenticated, requires, USER_ROLE, type Rbac } from '@gantry/plugin-rbac';
import type { Sessions } from '@gantry/plugin-sessions-redis';
import { decodeJwt } from 'jose';
import type { LoginMode } from './api.js';
import type { UsersConfig } from './config.js';
import { UserEntity } from './entity.js';
import { UsersErrors } from './errors.js';
import * as s from './schemas.js';
import { toRecord, userObject, type UsersService } from './service.js';

/** What the routes need. */
export interface RouteDeps {
  readonly http: HttpRouter;
  readonly users: UsersService;
  readonly tokens: TokenService;
  readonly rbac: Rbac;
  readonly db: Database;
  readonly sessions: Sessions | undefined;
  readonly config: UsersConfig;
}

const AUTH = ['auth'];
const USERS = ['users'];

function caller(req: RouteRequest): Principal {
  // The route is authenticated: the HTTP layer answered 401 before the handler otherwise.
  return req.context.principal!;
}

/** The authentication routes (`/auth/...`) of the HTTP contract. */
export function authRoutes({ http, users, tokens, db, sessions, config }: RouteDeps): void {
  http.post(
    '/auth/signup',
    {
      summary: 'Create an account and mail a verification link',
      tags: AUTH,
      status: 201,
      schema: { body: s.signupBody },
      meta: { public: true, rateLimit: 'signup' },
    },
    async (req) => {
      if (!config.signup) throw UsersErrors.SIGNUP_CLOSED('accounts are created by administrators');
      // The same steps, in the same order, whether or not the address has an account (see UsersService.signUp).
      const outcome = await users.signUp(req.body);
      users.later(outcome.mail.name, outcome.mail.send);
      await users.record(outcome.audit);
      return outcome.view;
    },
  );

  http.post(
    '/auth/verify-email',
    {
      summary: 'Verify the email address with the mailed token',
      tags: AUTH,
      status: 204,
      schema: { body: s.tokenBody },
      meta: { public: true, rateLimit: 'verify-email' },
    },
    async (req) => {
      const userId = await db.transaction(async (em) => {
        const id = await users.oneTime.consume(em, 'verify-email', req.body.token);
        await em.nativeUpdate(
          UserEntity,
          { id, emailVerifiedAt: null },
          { emailVerifiedAt: new Date(), updatedAt: new Date() },
        );
        await users.events.publish('users.email-verified', { userId: id }, em);
        return id;
      });
      await users.record({
        action: 'auth.email.verify',
        outcome: 'success',
        actor: { id: userId, kind: 'user' },
        object: userObject(userId),
      });
      return undefined;
    },
  );

  http.post(
    '/auth/verify-email/resend',
    {
      summary: 'Mail a new verification link (202 whether or not the account exists)',
      tags: AUTH,
      status: 202,
      schema: { body: s.forgotBody },
      meta: { public: true, rateLimit: 'verify-resend' },
    },
    async (req) => {
      const { email } = req.body;
      users.later('verification mail', async () => {
        const row = await users.rowByEmail(email);
        if (row && row.emailVerifiedAt == null && row.status === 'active') await users.sendVerification(row);
      });
      return { status: 'accepted' };
    },
  );

  http.post(
    '/auth/login',
    {
      summary: 'Sign in with email and password',
      tags: AUTH,
      schema: { body: s.loginBody },
      meta: { public: true, rateLimit: 'auth' },
    },
    async (req, reply) => {
      const row = await users.checkPassword(req.body.email, req.body.password);
      const mode: LoginMode = req.body.session === true ? 'session' : 'token';
      return users.continueLogin(toRecord(row), { mode, method: 'password' }, req, reply);
    },
  );

  http.post(
    '/auth/refresh',
    {
      summary: 'Exchange a refresh token for a new pair (rotation; reuse revokes the session)',
      tags: AUTH,
      schema: { body: s.refreshBody },
      meta: { public: true, rateLimit: 'refresh' },
    },
    async (req) => {
      try {
        const pair = await tokens.refresh(req.body.refreshToken);
        await sessions?.touch(pair.sessionId);
        // The new token is our own: its subject is the account refreshed.
        const { sub } = decodeJwt(pair.accessToken) as { sub: string };
        await users.record({
          action: 'auth.token.refresh',
          outcome: 'success',
          actor: { id: sub, kind: 'user' },
          object: userObject(sub),
        });
        return {
          accessToken: pair.accessToken,
          refreshToken: pair.refreshToken,
          expiresIn: pair.expiresIn,
          tokenType: pair.tokenType,
        };
      } catch (err) {
        if (AuthJwtErrors.REFRESH_REUSED.is(err)) {
          // auth-jwt verified the signature before detecting reuse: the claims are the issuer's own.
          const { sub, fid } = decodeJwt(req.body.refreshToken) as { sub: string; fid: string };
          await sessions?.revoke(sub, fid);
          await users.record({
            action: 'auth.token.reuse',
            outcome: 'failure',
            actor: { id: sub, kind: 'user' },
            object: userObject(sub),
            details: { consequence: 'session revoked' },
          });
        } else if (GantryError.is(err) && err.status === 401) {
          // Expired, revoked, forged or malformed: nothing in it can be trusted, so no actor; only the reason.
          await users.record({ action: 'auth.token.refresh', outcome: 'failure', details: { reason: err.code } });
        }
        throw err;
      }
    },
  );

  http.post(
    '/auth/logout',
    {
      summary: 'End the current session (token family or cookie session)',
      tags: AUTH,
      status: 204,
      meta: { ...authenticated() },
    },
    async (req, reply) => {
      const principal = caller(req);
      if (principal.via === 'session') await sessions!.destroyCurrent(req.raw, reply.raw);
      else {
        const fid = String(principal.sessionId);
        await tokens.revokeFamily(fid);
        await sessions?.revoke(principal.id, fid);
      }
      await users.record({ action: 'auth.logout', outcome: 'success', object: userObject(principal.id) });
      return undefined;
    },
  );

  http.post(
    '/auth/password/forgot',
    {
      summary: 'Mail a password reset link (202 whether or not the account exists)',
      tags: AUTH,
      status: 202,
      schema: { body: s.forgotBody },
      meta: { public: true, rateLimit: 'password-forgot' },
    },
    async (req) => {
      const { email } = req.body;
      // Everything happens after the answer: same status, body and time for every address.
      users.later('password reset mail', async () => {
        const row = await users.rowByEmail(email);
        const known = row !== undefined && row.status === 'active';
        if (known) await users.sendReset(row);
        await users.record({
          action: 'auth.password.forgot',
          outcome: known ? 'success' : 'failure',
          ...(row ? { object: userObject(row.id) } : {}),
          details: known ? {} : { email, reason: row ? 'disabled' : 'unknown-email' },
        });
      });
      return { status: 'accepted' };
    },
  );

  http.post(
    '/auth/password/reset',
    {
      summary: 'Set a new password with the mailed token (single use)',
      tags: AUTH,
      status: 204,
      schema: { body: s.resetBody },
      meta: { public: true, rateLimit: 'password-reset' },
    },
    async (req) => {
      const { token, password } = req.body;
      // The policy is checked before the token is spent: a refused password leaves the link usable.
      const userId = await users.oneTime.peek(db.em(), 'reset-password', token);
      const row = await users.row(userId);
      if (!row) throw UsersErrors.TOKEN_INVALID('this link is invalid');
      users.checkPolicy(password, row.email);
      await db.transaction(async (em) => {
        await users.oneTime.consume(em, 'reset-password', token);
        await users.storePassword(em, userId, password);
        // Only the mailbox owner can use the link: the address is proven.
        await em.nativeUpdate(UserEntity, { id: userId, emailVerifiedAt: null }, { emailVerifiedAt: new Date() });
        await users.events.publish('users.password-reset', { userId }, em);
      });
      await users.revokeEverything(userId);
      await users.record({
        action: 'auth.password.reset',
        outcome: 'success',
        actor: { id: userId, kind: 'user' },
        object: userObject(userId),
        details: { consequence: 'every session revoked' },
      });
      return undefined;
    },
  );

  http.post(
    '/auth/password/change',
    {
      summary: 'Change the own password (every session and token is revoked)',
      tags: AUTH,
      status: 204,
      schema: { body: s.changePasswordBody },
      meta: { ...authenticated(), rateLimit: 'password-change' },
    },
    async (req) => {
      const id = caller(req).id;
      if (!(await users.verifyPassword(id, req.body.currentPassword))) {
        await users.record({
          action: 'auth.password.change',
          outcome: 'failure',
          object: userObject(id),
          details: { reason: 'wrong-current-password' },
        });
        throw UsersErrors.CURRENT_PASSWORD_WRONG('the current password is wrong');
      }
      await users.setPassword(id, req.body.newPassword);
      await users.record({
        action: 'auth.password.change',
        outcome: 'success',
        object: userObject(id),
        details: { consequence: 'every session revoked' },
      });
      return undefined;
    },
  );
}

/** The account routes (`/users/...`): own profile, and administration guarded by rbac permissions. */
export function userRoutes({ http, users, rbac }: RouteDeps): void {
  http.get('/users/me', { summary: 'Own profile', tags: USERS, meta: { ...authenticated() } }, (req) =>
    users.view(caller(req).id),
  );

  http.patch(
    '/users/me',
    {
      summary: 'Change own profile (name)',
      tags: USERS,
      schema: { body: s.patchMeBody },
      meta: { ...authenticated() },
    },
    async (req) => {
      const id = caller(req).id;
      const row = await users.update(id, { name: req.body.name });
      await users.record({
        action: 'account.update',
        outcome: 'success',
        object: userObject(id),
        details: { fields: ['name'] },
      });
      return users.viewOf(row);
    },
  );

  http.get(
    '/users',
    {
      summary: 'List accounts (oldest first, cursor pagination)',
      tags: USERS,
      schema: { query: s.listQuery },
      meta: { ...requires('users:read') },
    },
    async (req) => users.list(req.query),
  );

  http.post(
    '/users',
    {
      summary: 'Create an account',
      tags: USERS,
      status: 201,
      schema: { body: s.createUserBody },
      meta: { ...requires('users:write') },
    },
    async (req) => {
      const { email, password, name, roles, emailVerified } = req.body;
      await rbac.assertHolds(
        caller(req),
        rbac.permissionsOfRoles(roles ?? [USER_ROLE]),
        'creating an account with these roles',
      );
      const row = await users.create({
        email,
        password,
        name,
        verified: emailVerified === true,
        roles: roles ?? [USER_ROLE],
      });
      if (emailVerified !== true) users.later('verification mail', () => users.sendVerification(row));
      await users.record({
        action: 'admin.user.create',
        outcome: 'success',
        object: userObject(row.id),
        details: { roles: roles ?? [USER_ROLE] },
      });
      return users.viewOf(row);
    },
  );

  http.get(
    '/users/:id',
    { summary: 'One account', tags: USERS, schema: { params: s.idParams }, meta: { ...requires('users:read') } },
    (req) => users.view(req.params.id),
  );

  http.patch(
    '/users/:id',
    {
      summary: 'Change an account (name, status, email verified); disabling revokes its sessions',
      tags: USERS,
      schema: { params: s.idParams, body: s.patchUserBody },
      meta: { ...requires('users:write') },
    },
    async (req) => {
      const { id } = req.params;
      if (id === caller(req).id && req.body.status === 'disabled')
        throw UsersErrors.SELF_ACTION('an administrator cannot disable their own account');
      // Nobody changes (or locks out) an account holding permissions they do not hold themselves.
      await rbac.assertHolds(caller(req), await rbac.permissionsOf(id), 'changing this account');
      const row = await users.update(id, req.body);
      await users.record({
        action: 'admin.user.update',
        outcome: 'success',
        object: userObject(id),
        details: { ...req.body },
      });
      return users.viewOf(row);
    },
  );

  http.delete(
    '/users/:id',
    {
      summary: 'Delete an account, its roles, sessions and tokens',
      tags: USERS,
      status: 204,
      schema: { params: s.idParams },
      meta: { ...requires('users:write') },
    },
    async (req) => {
      const { id } = req.params;
      if (id === caller(req).id) throw UsersErrors.SELF_ACTION('an administrator cannot delete their own account');
      await rbac.assertHolds(caller(req), await rbac.permissionsOf(id), 'deleting this account');
      await users.remove(id);
      await users.record({ action: 'admin.user.delete', outcome: 'success', object: userObject(id) });
      return undefined;
    },
  );

  http.put(
    '/users/:id/roles',
    {
      summary: "Replace an account's roles",
      tags: ['rbac'],
      schema: { params: s.idParams, body: s.rolesBody },
      meta: { ...requires('roles:write') },
    },
    async (req) => {
      const { id } = req.params;
      if (!(await users.row(id))) throw UsersErrors.NOT_FOUND(`no user has id ${JSON.stringify(id)}`);
      // Covers what the account holds now and what it would hold: no granting, nor taking, beyond one's own.
      const involved = [...(await rbac.permissionsOf(id)), ...rbac.permissionsOfRoles(req.body.roles)];
      await rbac.assertHolds(caller(req), involved, "changing this account's roles");
      if (!req.body.roles.includes(ADMIN_ROLE)) await users.assertNotLastActiveAdmin(id);
      const roles = await rbac.setRoles(id, req.body.roles);
      await users.record({
        action: 'admin.user.roles',
        outcome: 'success',
        object: userObject(id),
        details: { roles },
      });
      return { id, roles };
    },
  );
}
