import { token } from '@gantry/core';
import type { Rbac } from './rbac.js';

/** The {@link Rbac} service: roles of subjects, permission checks, role administration. */
export const RbacToken = token<Rbac>('gantry.rbac.Rbac');
