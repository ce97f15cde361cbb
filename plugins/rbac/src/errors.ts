import { defineErrors } from '@gantry/core';

/** Error registry of the `rbac` plugin (codes `GANTRY_RBAC_<REASON>`). */
export const RbacErrors = defineErrors('rbac', {
  FORBIDDEN: {
    status: 403,
    title: 'Permission denied',
    fix: 'ask an administrator for a role that grants the permission named in "details"',
  },
  ESCALATION: {
    status: 403,
    title: 'Cannot grant or manage more than you hold',
    fix: 'ask an account that holds every permission involved (an administrator) to do it',
  },
  UNKNOWN_ROLE: { status: 400, title: 'Unknown role', fix: 'use one of the roles listed by GET /api/v1/roles' },
  ROLE_INVALID: {
    status: 400,
    title: 'Role name or description invalid',
    fix: 'name roles with 1-48 lower-case letters, digits and "-", starting with a letter; describe them in 1 to 200 characters',
  },
  ROLE_NOT_FOUND: { status: 404, title: 'Role not found', fix: 'use one of the roles listed by GET /api/v1/roles' },
  ROLE_EXISTS: {
    status: 409,
    title: 'Role already exists',
    fix: 'choose another name, or change the existing role with PATCH /api/v1/roles/:name',
  },
  ROLE_PROTECTED: {
    status: 409,
    title: 'Role not managed through the API',
    fix: 'admin and user are built in; a role listed in plugins.rbac.roles is managed in the config file',
  },
  ROLE_IN_USE: {
    status: 409,
    title: 'Role still held',
    fix: 'take the role from the accounts holding it (PUT /api/v1/users/:id/roles) first',
  },
  UNKNOWN_PERMISSION: {
    status: 400,
    title: 'Unknown permission',
    fix: 'grant permissions that routes declare or plugins.rbac.permissions lists (see GET /api/v1/roles, role admin)',
  },
  LAST_ADMIN: {
    status: 409,
    title: 'The last administrator cannot lose the admin role',
    fix: 'give the admin role to another account first',
  },
  UNDECLARED: {
    status: 500,
    title: 'Protected route without a permission declaration',
    fix: 'declare meta.permission on the route: a permission such as "users:write" (requires(...)), or "authenticated" for any signed-in user',
  },
  INVALID_PERMISSION: {
    status: 500,
    title: 'Permission name is invalid',
    fix: 'name permissions "<resource>:<action>" in lower case (e.g. "users:read"), or use "authenticated"',
  },
  UNAVAILABLE: {
    status: 503,
    title: 'Permissions cannot be checked',
    fix: 'retry later; operators: check the database (see /readyz)',
  },
});
