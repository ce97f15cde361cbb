/** @gantry/plugin-sessions-redis: cookie sessions for browsers, CSRF protection and the per-user session registry. */
export { plugin } from './plugin.js';
export { SessionsToken } from './tokens.js';
export { SessionsErrors } from './errors.js';
export { sessionsConfigSchema, type SessionsConfig, type SessionsOptions } from './config.js';
export { CSRF_HEADER } from './csrf.js';
export type { EstablishedSession, Sessions, SessionKind, SessionRevokedListener, SessionView } from './api.js';
