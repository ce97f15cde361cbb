import { defineErrors } from '@gantry/core';

/** Error registry of the `rbac` plugin (codes `GANTRY_RBAC_<REASON>`). */
export const RbacErrors = defineErrors('rbac', {
  FORBIDDEN: { status: 403, title: 'Permission denied', fix: 'ask an administrator for a role that grants the permission named in "details"' },
  UNKNOWN_ROLE: { status: 400, title: 'Unknown role', fix: 'use one of the roles listed by GET /api/v1/roles' },
  LAST_ADMIN: { status: 409, title: 'The last administrator cannot lose the admin role', fix: 'give the admin role to another account first' },
  UNDECLARED: { status: 500, title: 'Protected route without a permission declaration', fix: 'declare meta.permission on the route: a permission such as "users:write" (requires(...)), or "authenticated" for any signed-in user' },
  INVALID_PERMISSION: { status: 500, title: 'Permission name is invalid', fix: 'name permissions "<resource>:<action>" in lower case (e.g. "users:read"), or use "authenticated"' },
  UNAVAILABLE: { status: 503, title: 'Permissions cannot be checked', fix: 'retry later; operators: check the database (see /readyz)' },
});
