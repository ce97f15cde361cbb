/** @gantry/plugin-users: accounts, sign-up, sign-in, profile, administration and password reset. */
export { plugin } from './plugin.js';
export { UsersToken } from './tokens.js';
export { UsersErrors } from './errors.js';
export { usersConfigSchema, OWASP_ARGON2, type UsersConfig } from './config.js';
export type {
  LoginAttempt,
  LoginMode,
  LoginResult,
  LoginStep,
  UserRecord,
  Users,
  UserStatus,
  UserView,
} from './api.js';
export { PASSWORD_MAX, PASSWORD_MIN, PasswordHasher, PasswordPolicy, type Argon2Params } from './passwords.js';
export { UserEntity, usersMigrations, UserTokenEntity, type UserRow } from './entity.js';
