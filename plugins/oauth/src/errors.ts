import { defineErrors } from '@gantry/core';

/** Error registry of the `oauth` plugin (codes `GANTRY_OAUTH_<REASON>`). Retired codes are never reused. */
export const OAuthErrors = defineErrors('oauth', {
  UNKNOWN_PROVIDER: {
    status: 404,
    title: 'Unknown sign-in provider',
    fix: 'use one of the provider names configured under plugins.oauth.providers (google, facebook, or an oidc entry)',
  },
  MODE_UNAVAILABLE: {
    status: 400,
    title: 'Cookie sessions are not enabled',
    fix: 'omit ?mode=session (the callback then answers with tokens), or enable the sessions-redis plugin',
  },
  STATE_INVALID: {
    status: 400,
    title: 'Sign-in state invalid or expired',
    fix: 'start the sign-in again from GET /auth/oauth/<provider> in the same browser, and finish it within the state lifetime; a callback URL works once',
  },
  CALLBACK_INVALID: {
    status: 400,
    title: 'Sign-in callback without authorization code',
    fix: 'the provider must redirect to the callback with ?code=...&state=...; start the sign-in again',
  },
  DENIED: {
    status: 401,
    title: 'Sign-in refused at the provider',
    fix: 'the provider answered with an error (e.g. the user cancelled or refused consent); start the sign-in again and accept',
  },
  PROVIDER_UNAVAILABLE: {
    status: 502,
    title: 'Identity provider unavailable',
    fix: 'retry later; operators: check that the issuer URL is right and its /.well-known/openid-configuration answers (see /readyz)',
  },
  EXCHANGE_FAILED: {
    status: 502,
    title: 'Identity provider exchange failed',
    fix: 'start the sign-in again; operators: check the client id and secret, the redirect URI registered at the provider, and the "oauth exchange failed" log line',
  },
  EMAIL_UNVERIFIED: {
    status: 403,
    title: 'No verified email address from the provider',
    fix: 'verify the email address at the provider (and grant the email scope), or sign up with a password instead',
  },
  LINK_REFUSED: {
    status: 409,
    title: 'An unverified account already uses this email address',
    fix: 'sign in with the password of that account and verify its email address (or reset its password), then use the provider again',
  },
  ACCOUNT_DISABLED: {
    status: 403,
    title: 'Account disabled',
    fix: 'contact an administrator',
  },
});

/** A log-safe name for an error: its code or class, never its message (which may quote a response). */
export function errorName(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  return err instanceof Error ? err.name : 'unknown';
}
