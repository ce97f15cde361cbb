/** @gantry/plugin-rbac: roles and permissions stored in the database, declared per route. */
export { plugin } from './plugin.js';
export { RbacToken } from './tokens.js';
export { RbacErrors } from './errors.js';
export { rbacConfigSchema, type RbacConfig } from './config.js';
export {
  ADMIN_ROLE,
  ANY_AUTHENTICATED,
  authenticated,
  declaredPermissions,
  PERMISSION_PATTERN,
  requires,
  ROLE_PATTERN,
  USER_ROLE,
} from './permissions.js';
export type { Rbac, RoleView } from './rbac.js';
export { PermissionEntity, rbacMigrations, RoleEntity, RolePermissionEntity, SubjectRoleEntity } from './entity.js';
