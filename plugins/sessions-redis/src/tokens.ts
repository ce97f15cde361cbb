import { token } from '@gantry/core';
import type { Sessions } from './api.js';

/** The {@link Sessions} service: open, list and revoke sessions. */
export const SessionsToken = token<Sessions>('gantry.sessions.Sessions');
