import { currentContext, GantryError, type HttpMiddleware, type Logger } from '@gantry/core';
import {
  LockMode,
  UniqueConstraintViolationException,
  type Database,
  type SqlEntityManager,
} from '@gantry/plugin-database';
import { LRUCache } from 'lru-cache';
import type { RbacConfig } from './config.js';
import { PermissionEntity, RoleEntity, RolePermissionEntity, SubjectRoleEntity } from './entity.js';
import { RbacErrors } from './errors.js';
import { ADMIN_ROLE, PERMISSION_PATTERN, ROLE_PATTERN, USER_ROLE } from './permissions.js';

/** A role as GET /api/v1/roles shows it. */
export interface RoleView {
  readonly name: string;
  readonly description: string;
  readonly builtin: boolean;
  readonly permissions: readonly string[];
}

/** A custom role as created through {@link Rbac.createRole}. */
export interface RoleInput {
  readonly name: string;
  readonly description: string;
  readonly permissions: readonly string[];
}

/** Roles and permissions of subjects (user ids), stored in the database. */
export interface Rbac {
  /** Roles held by a subject, sorted. */
  rolesOf(subjectId: string): Promise<readonly string[]>;
  /** Subjects holding a role, sorted (read from the database, never cached). */
  holders(role: string): Promise<readonly string[]>;
  /** Permissions a subject holds through its roles (admin: every known permission). */
  permissionsOf(subjectId: string): Promise<ReadonlySet<string>>;
  /** Whether the subject holds every permission given. */
  can(subjectId: string, ...permissions: string[]): Promise<boolean>;
  /** The permissions these roles grant together (admin: every known permission; unknown roles grant nothing). */
  permissionsOfRoles(roles: readonly string[]): ReadonlySet<string>;
  /**
   * No escalation: throws 403 GANTRY_RBAC_ESCALATION unless `holder` (a principal: its own
   * `permissions`, else its roles') holds every permission given. Call it before granting roles or
   * permissions, or acting on an account, with the permissions involved; `action` names it in the error.
   */
  assertHolds(
    holder: { readonly id: string; readonly permissions?: readonly string[] },
    permissions: Iterable<string>,
    action: string,
  ): Promise<void>;
  /**
   * Replaces a subject's roles (unknown role → 400 GANTRY_RBAC_UNKNOWN_ROLE; taking admin from the
   * last admin → 409 GANTRY_RBAC_LAST_ADMIN). Returns the new roles.
   */
  setRoles(subjectId: string, roles: readonly string[]): Promise<readonly string[]>;
  /** Adds one role (idempotent), e.g. "user" at signup. */
  grant(subjectId: string, role: string): Promise<void>;
  /** Removes every role of a subject (account deleted). */
  forget(subjectId: string): Promise<void>;
  /** Every role with its permissions. */
  listRoles(): Promise<readonly RoleView[]>;
  /**
   * Creates a custom role (409 GANTRY_RBAC_ROLE_EXISTS; 400 GANTRY_RBAC_UNKNOWN_PERMISSION for a
   * permission nothing declares). Custom roles are managed here; admin, user and the config's roles are not.
   */
  createRole(role: RoleInput): Promise<RoleView>;
  /** Changes a custom role's description and/or replaces its permissions (404, 409 GANTRY_RBAC_ROLE_PROTECTED, 400). */
  updateRole(name: string, changes: Partial<Omit<RoleInput, 'name'>>): Promise<RoleView>;
  /** Deletes a custom role nobody holds (404, 409 GANTRY_RBAC_ROLE_PROTECTED, 409 GANTRY_RBAC_ROLE_IN_USE). */
  deleteRole(name: string): Promise<void>;
  /** Every known permission (declared by routes, or in the config), sorted. */
  knownPermissions(): readonly string[];
  /**
   * Declares permissions a plugin checks in its handlers rather than on a route (e.g. "read anyone's
   * notes" on a route every signed-in caller may use), so admin is granted them at start. Only in register().
   */
  declare(permissions: readonly string[]): void;
}

/** What {@link RbacService} needs. */
export interface RbacServiceOptions {
  readonly db: Database;
  readonly config: RbacConfig;
  readonly logger: Logger;
  /** Tells the other instances what changed (the redis plugin's pub/sub): a {@link RbacChange} message. */
  readonly announce?: (message: string) => Promise<unknown>;
  /**
   * Publishes `rbac.role-changed` ({ subjectId, roles, previous }) in the transaction that changed
   * the roles (kafka-events' outbox, when that plugin is enabled).
   */
  readonly roleChanged?: (
    change: { subjectId: string; roles: readonly string[]; previous: readonly string[] },
    em: SqlEntityManager,
  ) => Promise<unknown>;
}

/** Messages between instances: `s:<subject id>` (that subject's roles changed) or `g` (role grants changed). */
export type RbacChange = `s:${string}` | 'g';

const BUILTIN: Readonly<Record<string, string>> = {
  [ADMIN_ROLE]: 'Every permission, present and future',
  [USER_ROLE]: 'Self-service: own profile, sessions and MFA (routes open to any signed-in account)',
};

/**
 * The {@link Rbac} implementation. Role grants are read once at start (they only change by config).
 * A subject's roles are kept for `roleCacheTtlMs` (an LRU of `roleCacheSize` subjects): a change made
 * through this instance applies at once, one made through another instance within that time.
 */
export class RbacService implements Rbac {
  private readonly declared = new Set<string>();
  private grants = new Map<string, ReadonlySet<string>>();
  private all: readonly string[] = [];
  private allSet: ReadonlySet<string> = new Set();
  private readonly cache: LRUCache<string, readonly string[]> | undefined;
  /**
   * Bumped by every local change: a read that started before one must not fill the cache with what
   * it read (lru-cache's own fetch() rejects its waiters when the key is deleted mid-read, so the
   * reads are not coalesced through it).
   */
  private generation = 0;

  constructor(private readonly options: RbacServiceOptions) {
    const { roleCacheTtlMs, roleCacheSize } = options.config;
    this.cache = roleCacheTtlMs > 0 ? new LRUCache({ max: roleCacheSize, ttl: roleCacheTtlMs }) : undefined;
    for (const p of options.config.permissions) this.declared.add(p);
    for (const role of Object.values(options.config.roles)) for (const p of role.permissions) this.declared.add(p);
  }

  /** Adds permissions named by routes (route hooks run before start) or declared by plugins in register(). */
  declare(permissions: readonly string[]): void {
    if (this.all.length > 0)
      throw RbacErrors.INVALID_PERMISSION(
        `permissions ${permissions.join(', ')} were declared after rbac seeded its roles: declare them in register()`,
      );
    for (const p of permissions) {
      if (!PERMISSION_PATTERN.test(p))
        throw RbacErrors.INVALID_PERMISSION(`permission ${JSON.stringify(p)} must look like "resource:action"`);
      this.declared.add(p);
    }
  }

  /** Creates missing roles, permissions and grants; admin gets every permission. Then loads grants. */
  async seed(): Promise<void> {
    const { db, config } = this.options;
    this.all = [...this.declared].sort();
    this.allSet = new Set(this.all);
    const roles: Record<string, { description: string; builtin: boolean; permissions: readonly string[] }> = {
      [ADMIN_ROLE]: { description: BUILTIN[ADMIN_ROLE]!, builtin: true, permissions: this.all },
      [USER_ROLE]: { description: BUILTIN[USER_ROLE]!, builtin: true, permissions: [] },
    };
    for (const [name, role] of Object.entries(config.roles))
      if (!roles[name]) roles[name] = { ...role, builtin: false };
    await this.unavailableOnFailure(() =>
      db
        .orm()
        .em.fork()
        .transactional(async (em) => {
          const knownRoles = new Set((await em.find(RoleEntity, {})).map((r) => r.name));
          const knownPerms = new Set((await em.find(PermissionEntity, {})).map((p) => p.name));
          const knownGrants = new Set(
            (await em.find(RolePermissionEntity, {})).map((g) => `${g.role} ${g.permission}`),
          );
          for (const [name, role] of Object.entries(roles))
            if (!knownRoles.has(name))
              await em.insert(RoleEntity, { name, description: role.description, builtin: role.builtin });
          for (const p of this.all) if (!knownPerms.has(p)) await em.insert(PermissionEntity, { name: p });
          for (const [name, role] of Object.entries(roles))
            for (const p of role.permissions)
              if (!knownGrants.has(`${name} ${p}`))
                await em.insert(RolePermissionEntity, { role: name, permission: p });
        }),
    );
    await this.loadGrants();
  }

  async rolesOf(subjectId: string): Promise<readonly string[]> {
    const cached = this.cache?.get(subjectId);
    if (cached) return cached;
    const generation = this.generation;
    const rows = await this.unavailableOnFailure(() =>
      this.options.db
        .em()
        .find(SubjectRoleEntity, { subjectId }, { disableIdentityMap: true, orderBy: { role: 'asc' } }),
    );
    const roles = Object.freeze(rows.map((r) => r.role));
    if (generation === this.generation) this.cache?.set(subjectId, roles);
    return roles;
  }

  async holders(role: string): Promise<readonly string[]> {
    const rows = await this.unavailableOnFailure(() =>
      this.options.db
        .em()
        .find(SubjectRoleEntity, { role }, { disableIdentityMap: true, orderBy: { subjectId: 'asc' } }),
    );
    return rows.map((r) => r.subjectId);
  }

  async permissionsOf(subjectId: string): Promise<ReadonlySet<string>> {
    return this.permissionsOfRoles(await this.rolesOf(subjectId));
  }

  permissionsOfRoles(roles: readonly string[]): ReadonlySet<string> {
    if (roles.includes(ADMIN_ROLE)) return this.allSet;
    const out = new Set<string>();
    for (const role of roles) for (const p of this.grants.get(role) ?? []) out.add(p);
    return out;
  }

  async assertHolds(
    holder: { readonly id: string; readonly permissions?: readonly string[] },
    permissions: Iterable<string>,
    action: string,
  ): Promise<void> {
    const held = Array.isArray(holder.permissions)
      ? new Set(holder.permissions)
      : this.permissionsOfRoles(await this.rolesOf(holder.id));
    // An unknown permission is not an escalation but bad input: the operation itself refuses it (400).
    const lacking = [...new Set(permissions)].filter((p) => this.allSet.has(p) && !held.has(p)).sort();
    if (lacking.length)
      throw RbacErrors.ESCALATION(`${action} involves permissions you do not hold: ${lacking.join(', ')}`, {
        details: { lacking },
      });
  }

  async can(subjectId: string, ...permissions: string[]): Promise<boolean> {
    return this.missing(await this.rolesOf(subjectId), permissions) === undefined;
  }

  /** The first permission of `needed` that none of `roles` grants, if any (admin grants all). */
  private missing(roles: readonly string[], needed: readonly string[]): string | undefined {
    if (roles.includes(ADMIN_ROLE)) return undefined;
    return needed.find((p) => !roles.some((role) => this.grants.get(role)?.has(p) === true));
  }

  /** Drops a subject's cached roles: after a change through this instance, or told by another one. */
  forgetCached(subjectId: string): void {
    this.generation++;
    this.cache?.delete(subjectId);
  }

  /** Applies a change another instance announced. */
  async received(message: string): Promise<void> {
    if (message === 'g') await this.loadGrants();
    else if (message.startsWith('s:')) this.forgetCached(message.slice(2));
  }

  /** After a change through this instance: forget here, tell the others (best effort: their cache expires anyway). */
  private changed(subjectId: string): void {
    this.forgetCached(subjectId);
    this.announce(`s:${subjectId}`);
  }

  private announce(message: RbacChange): void {
    this.options
      .announce?.(message)
      .catch((err: unknown) =>
        this.options.logger.warn(
          { err, change: message },
          'rbac: could not tell the other instances about a change; they see role changes within roleCacheTtlMs, grant changes at their next start',
        ),
      );
  }

  async setRoles(subjectId: string, roles: readonly string[]): Promise<readonly string[]> {
    const wanted = [...new Set(roles)].sort();
    const unknown = wanted.filter((r) => !this.grants.has(r));
    if (unknown.length)
      throw RbacErrors.UNKNOWN_ROLE(`unknown role(s): ${unknown.map((r) => JSON.stringify(r)).join(', ')}`, {
        details: { unknown, known: [...this.grants.keys()].sort() },
      });
    return this.unavailableOnFailure(() =>
      this.options.db.transaction(async (em) => {
        const current = (await em.find(SubjectRoleEntity, { subjectId })).map((r) => r.role);
        if (current.includes(ADMIN_ROLE) && !wanted.includes(ADMIN_ROLE)) {
          // PostgreSQL: lock every admin grant first, so two administrators demoted at once cannot
          // each count the other and leave none (the second waits, then sees one admin left).
          // SQLite has one writer at a time.
          const admins =
            this.options.db.driver === 'postgresql'
              ? (await em.find(SubjectRoleEntity, { role: ADMIN_ROLE }, { lockMode: LockMode.PESSIMISTIC_WRITE }))
                  .length
              : await em.count(SubjectRoleEntity, { role: ADMIN_ROLE });
          if (admins <= 1) throw RbacErrors.LAST_ADMIN('this account is the last administrator');
        }
        await em.nativeDelete(SubjectRoleEntity, { subjectId });
        for (const role of wanted) await em.insert(SubjectRoleEntity, { subjectId, role });
        if (this.options.roleChanged && [...current].sort().join(',') !== wanted.join(','))
          await this.options.roleChanged({ subjectId, roles: wanted, previous: [...current].sort() }, em);
        return wanted;
      }),
    ).finally(() => this.changed(subjectId));
  }

  async grant(subjectId: string, role: string): Promise<void> {
    if (!this.grants.has(role)) throw RbacErrors.UNKNOWN_ROLE(`unknown role ${JSON.stringify(role)}`);
    await this.unavailableOnFailure(async () => {
      const em = this.options.db.em();
      const held = await em.count(SubjectRoleEntity, { subjectId, role });
      if (held !== 0) return;
      if (!this.options.roleChanged) {
        await em.insert(SubjectRoleEntity, { subjectId, role });
        return;
      }
      await this.options.db.transaction(async (tx) => {
        const previous = (await tx.find(SubjectRoleEntity, { subjectId })).map((r) => r.role).sort();
        await tx.insert(SubjectRoleEntity, { subjectId, role });
        await this.options.roleChanged!({ subjectId, roles: [...previous, role].sort(), previous }, tx);
      });
    }).finally(() => this.changed(subjectId));
  }

  async forget(subjectId: string): Promise<void> {
    await this.unavailableOnFailure(() => this.options.db.em().nativeDelete(SubjectRoleEntity, { subjectId })).finally(
      () => this.changed(subjectId),
    );
  }

  async listRoles(): Promise<readonly RoleView[]> {
    const rows = await this.unavailableOnFailure(() =>
      this.options.db.em().find(RoleEntity, {}, { orderBy: { name: 'asc' }, disableIdentityMap: true }),
    );
    return rows.map((r) => ({
      name: r.name,
      description: r.description,
      builtin: r.builtin,
      permissions: r.name === ADMIN_ROLE ? this.all : [...(this.grants.get(r.name) ?? [])].sort(),
    }));
  }

  async createRole(role: RoleInput): Promise<RoleView> {
    const { name, description } = checkRole(role);
    const permissions = this.knownOnly(role.permissions);
    if (this.grants.has(name)) throw RbacErrors.ROLE_EXISTS(`role ${JSON.stringify(name)} already exists`);
    await this.unavailableOnFailure(() =>
      this.options.db
        .transaction(async (em) => {
          // Insert first, no read before it: the primary key decides between concurrent creations, and
          // SQLite takes its write lock at once (a read first would make two writers deadlock: 503).
          await em.insert(RoleEntity, { name, description, builtin: false });
          for (const permission of permissions) await em.insert(RolePermissionEntity, { role: name, permission });
        })
        .catch((err: unknown) => {
          // Created meanwhile, here or through another instance: the primary key says so.
          if (err instanceof UniqueConstraintViolationException)
            throw RbacErrors.ROLE_EXISTS(`role ${JSON.stringify(name)} already exists`);
          throw err;
        }),
    );
    await this.grantsChanged();
    return { name, description, builtin: false, permissions };
  }

  async updateRole(name: string, changes: Partial<Omit<RoleInput, 'name'>>): Promise<RoleView> {
    this.checkManaged(name);
    if (changes.description !== undefined) checkRole({ name, description: changes.description });
    const permissions = changes.permissions === undefined ? undefined : this.knownOnly(changes.permissions);
    const description = await this.unavailableOnFailure(() =>
      this.options.db.transaction(async (em) => {
        const row = await em.findOne(RoleEntity, { name });
        if (!row) throw RbacErrors.ROLE_NOT_FOUND(`no role is named ${JSON.stringify(name)}`);
        if (changes.description !== undefined)
          await em.nativeUpdate(RoleEntity, { name }, { description: changes.description });
        if (permissions) {
          await em.nativeDelete(RolePermissionEntity, { role: name });
          for (const permission of permissions) await em.insert(RolePermissionEntity, { role: name, permission });
        }
        return changes.description ?? row.description;
      }),
    );
    await this.grantsChanged();
    return { name, description, builtin: false, permissions: [...(this.grants.get(name) ?? [])].sort() };
  }

  async deleteRole(name: string): Promise<void> {
    this.checkManaged(name);
    await this.unavailableOnFailure(() =>
      this.options.db.transaction(async (em) => {
        if ((await em.count(RoleEntity, { name })) === 0)
          throw RbacErrors.ROLE_NOT_FOUND(`no role is named ${JSON.stringify(name)}`);
        const holders = await em.count(SubjectRoleEntity, { role: name });
        if (holders > 0)
          throw RbacErrors.ROLE_IN_USE(`role ${JSON.stringify(name)} is held by ${holders} account(s)`, {
            details: { holders },
          });
        await em.nativeDelete(RolePermissionEntity, { role: name });
        await em.nativeDelete(RoleEntity, { name });
      }),
    );
    await this.grantsChanged();
  }

  /** Refuses the roles the API does not manage, and names that are not roles. */
  private checkManaged(name: string): void {
    if (name === ADMIN_ROLE || name === USER_ROLE)
      throw RbacErrors.ROLE_PROTECTED(`role ${JSON.stringify(name)} is built in`);
    if (Object.hasOwn(this.options.config.roles, name))
      throw RbacErrors.ROLE_PROTECTED(
        `role ${JSON.stringify(name)} is defined in the config file (plugins.rbac.roles): change it there`,
      );
    if (!this.grants.has(name)) throw RbacErrors.ROLE_NOT_FOUND(`no role is named ${JSON.stringify(name)}`);
  }

  /** The permissions given, deduplicated and sorted, all of them known. */
  private knownOnly(permissions: readonly string[]): string[] {
    const wanted = [...new Set(permissions)].sort();
    const unknown = wanted.filter((p) => !this.allSet.has(p));
    if (unknown.length)
      throw RbacErrors.UNKNOWN_PERMISSION(
        `unknown permission(s): ${unknown.map((p) => JSON.stringify(p)).join(', ')}`,
        { details: { unknown } },
      );
    return wanted;
  }

  /** Reloads the grants here and tells the other instances to. */
  private async grantsChanged(): Promise<void> {
    await this.loadGrants();
    this.announce('g');
  }

  /** True once seed() loaded the grants. */
  isSeeded(): boolean {
    return this.grants.size > 0;
  }

  knownPermissions(): readonly string[] {
    return this.all;
  }

  /** The middleware checking `needed` for the request's principal (built once per route). */
  guard(needed: readonly string[], onDenied: (permission: string) => Promise<void>): HttpMiddleware {
    return (_req, _res, next) => {
      const principal = currentContext()?.principal;
      if (!principal) {
        next(RbacErrors.FORBIDDEN('no caller'));
        return;
      }
      // A service principal carries its own permissions; a user's come from its roles.
      if (Array.isArray(principal.permissions)) {
        const held = principal.permissions;
        this.decide(
          needed.find((p) => !held.includes(p)),
          onDenied,
          next,
        );
        return;
      }
      this.rolesOf(principal.id).then((roles) => this.decide(this.missing(roles, needed), onDenied, next), next);
    };
  }

  private decide(
    missing: string | undefined,
    onDenied: (permission: string) => Promise<void>,
    next: (err?: unknown) => void,
  ): void {
    if (missing === undefined) return next();
    onDenied(missing)
      .catch((err: unknown) => this.options.logger.error({ err }, 'rbac: recording a denial failed'))
      .finally(() =>
        next(RbacErrors.FORBIDDEN(`this action needs permission "${missing}"`, { details: { permission: missing } })),
      );
  }

  private async loadGrants(): Promise<void> {
    const em = this.options.db.orm().em.fork();
    const roles = await em.find(RoleEntity, {});
    const rows = await em.find(RolePermissionEntity, {});
    const grants = new Map<string, Set<string>>(roles.map((r) => [r.name, new Set<string>()]));
    for (const row of rows) grants.get(row.role)?.add(row.permission);
    this.grants = grants;
  }

  private async unavailableOnFailure<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (GantryError.is(err)) throw err;
      throw RbacErrors.UNAVAILABLE('roles could not be read or written', { cause: err });
    }
  }
}

/** A role's name and description as the database takes them (the routes' schemas say the same). */
function checkRole(role: { readonly name: string; readonly description: string }): {
  name: string;
  description: string;
} {
  if (typeof role.name !== 'string' || !ROLE_PATTERN.test(role.name))
    throw RbacErrors.ROLE_INVALID(
      `role names are 1-48 lower-case letters, digits and "-", starting with a letter: got ${JSON.stringify(role.name)}`,
    );
  if (typeof role.description !== 'string' || role.description.trim() === '' || role.description.length > 200)
    throw RbacErrors.ROLE_INVALID('a role needs a description of 1 to 200 characters');
  return { name: role.name, description: role.description };
}
