import { token } from '@gantry/core';
import type { Rbac } from './rbac.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Rbac } from './rbac.js';

/** The {@link Rbac} service: roles of subjects, permission checks, role administration. */
export const RbacToken = token<Rbac>('gantry.rbac.Rbac');
