import { token } from '@gantry/core';
import type { Sessions } from './api.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Sessions } from './api.js';

/** The {@link Sessions} service: open, list and revoke sessions. */
export const SessionsToken = token<Sessions>('gantry.sessions.Sessions');
