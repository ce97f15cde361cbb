import { token } from '@gantry/core';
import type { Users } from './api.js';

/** The {@link Users} service: account lookups and the sign-in pipeline. */
export const UsersToken = token<Users>('gantry.users.Users');
