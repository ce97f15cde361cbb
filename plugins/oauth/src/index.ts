/** @gantry/plugin-oauth: sign-in with Google, Facebook and any OpenID Connect issuer, with state and PKCE. */
export { plugin } from './plugin.js';
export { OAuthErrors } from './errors.js';
export { oauthConfigSchema, type OAuthConfig, type OAuthOptions } from './config.js';
export { BINDING_COOKIE } from './binding-cookie.js';
export { OAuthStateEntity, oauthMigrations, type OAuthStateRow } from './entity.js';
