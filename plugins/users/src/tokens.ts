import { token } from '@gantry/core';
import type { Users } from './api.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Users } from './api.js';

/** The {@link Users} service: account lookups and the sign-in pipeline. */
export const UsersToken = token<Users>('gantry.users.Users');
