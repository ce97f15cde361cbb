import type { HttpRouter, Logger, RouteReply, RouteRequest } from '@gantry/core';
import { GantryError } from '@gantry/core';
import type { Audit } from '@gantry/plugin-audit';
import type { Users } from '@gantry/plugin-users';
import { z } from 'zod';
import {
  appendSetCookie,
  BINDING_COOKIE,
  bindingCookie,
  clearedBindingCookie,
  newRandomValue,
  readBinding,
} from './binding-cookie.js';
import type { OAuthConfig } from './config.js';
import { errorName, OAuthErrors } from './errors.js';
import type { ExternalIdentity } from './identity.js';
import type { StartState } from './passport-state-store.js';
import type { Providers } from './providers.js';
import { runStrategy } from './run-strategy.js';
import type { PendingSignIn, StateStore } from './state-store.js';

/** What the routes need. */
export interface RouteDeps {
  readonly http: HttpRouter;
  /** The providers, built right after the routes (their redirect URIs need the callback route's full path). */
  readonly providers: () => Providers;
  readonly states: StateStore;
  readonly users: Users;
  readonly audit: Audit;
  readonly config: OAuthConfig;
  /** Whether cookie sessions exist (the sessions-redis plugin): `?mode=session` is refused up front otherwise. */
  readonly sessionsEnabled: boolean;
  readonly logger: Logger;
}

/** The path of the callback route under the API base path; the redirect URIs are built from it. */
export const CALLBACK_PATH = '/auth/oauth/:provider/callback';

const TAGS = ['auth'];
const params = z.object({ provider: z.string().min(1).max(64) });
// Strict: passport reads the raw query, and a `code` or `error` on the start route would make the
// strategy treat it as a callback.
const startQuery = z.object({ mode: z.enum(['token', 'session']).default('token') }).strict();

/** Audit reason of each refusal (never a message: it could quote what the provider sent). */
const REASONS: ReadonlyArray<readonly [{ is(e: unknown): boolean }, string]> = [
  [OAuthErrors.STATE_INVALID, 'state-invalid'],
  [OAuthErrors.CALLBACK_INVALID, 'callback-invalid'],
  [OAuthErrors.DENIED, 'denied'],
  [OAuthErrors.PROVIDER_UNAVAILABLE, 'provider-unavailable'],
  [OAuthErrors.EXCHANGE_FAILED, 'exchange-failed'],
  [OAuthErrors.EMAIL_UNVERIFIED, 'email-unverified'],
  [OAuthErrors.LINK_REFUSED, 'link-refused'],
  [OAuthErrors.ACCOUNT_DISABLED, 'account-disabled'],
];

/** `GET /auth/oauth/:provider` (start) and `GET /auth/oauth/:provider/callback`. */
export function oauthRoutes(deps: RouteDeps): void {
  const { http, states, users, audit, config, sessionsEnabled, logger } = deps;
  const successUrl = new URL(config.successRedirect, config.callbackBaseUrl).href;

  http.get(
    '/auth/oauth/:provider',
    {
      summary: 'Start a sign-in with an OAuth 2.0 / OpenID Connect provider (302 to the provider; ?mode=token|session)',
      tags: TAGS,
      status: 302,
      schema: { params, query: startQuery },
      meta: { public: true },
    },
    async (req, reply) => {
      const provider = deps.providers().get(req.params.provider);
      const { mode } = req.query;
      if (mode === 'session' && !sessionsEnabled)
        throw OAuthErrors.MODE_UNAVAILABLE('?mode=session needs the sessions-redis plugin');
      // A browser keeps its binding across sign-ins, so two tabs signing in at once both finish.
      const binding = readBinding(req.headers) ?? newRandomValue();
      const state: StartState = { binding, mode };
      const outcome = await runStrategy({
        passport: deps.providers().passport,
        strategy: provider.name,
        req: req.raw,
        state,
        timeoutMs: config.timeoutMs,
      });
      if (outcome.kind !== 'redirect')
        throw OAuthErrors.EXCHANGE_FAILED(
          `the strategy of provider "${provider.name}" did not redirect to the provider`,
        );
      appendSetCookie(reply.raw, bindingCookie(binding, config.stateTtlSeconds));
      reply.status(302).header('Location', outcome.url);
      return undefined;
    },
  );

  http.get(
    CALLBACK_PATH,
    {
      summary: 'Finish a provider sign-in: tokens (200), or a cookie session and 303 to successRedirect',
      tags: TAGS,
      schema: { params },
      meta: { public: true },
    },
    async (req, reply) => {
      const provider = deps.providers().get(req.params.provider);
      try {
        return await finish(provider.name, req, reply);
      } catch (err) {
        const reason = REASONS.find(([factory]) => factory.is(err))?.[1] ?? 'error';
        if (reason === 'exchange-failed' || reason === 'provider-unavailable') {
          logger.warn({ provider: provider.name, err: errorName(err) }, 'oauth exchange failed');
        }
        await audit
          .record({
            action: 'auth.oauth.login',
            outcome: 'failure',
            details: { provider: provider.name, reason },
            ...(req.ip ? { ip: req.ip } : {}),
          })
          .catch((auditErr: unknown) =>
            logger.warn({ err: errorName(auditErr), provider: provider.name }, 'oauth failure not audited'),
          );
        throw err;
      }
    },
  );

  async function finish(
    provider: string,
    req: RouteRequest<{ provider: string }>,
    reply: RouteReply,
  ): Promise<unknown> {
    const query = req.query as Record<string, unknown>;
    const binding = readBinding(req.headers);
    if (query.error !== undefined) {
      // The provider refused: the state is spent all the same, so the callback URL cannot be replayed.
      if (binding && typeof query.state === 'string') await states.consume({ provider, state: query.state, binding });
      appendSetCookie(reply.raw, clearedBindingCookie());
      // RFC 6749 error codes are short ASCII words; anything else is not repeated back.
      const code = typeof query.error === 'string' && /^[\w.-]{1,64}$/.test(query.error) ? query.error : 'unreadable';
      throw OAuthErrors.DENIED(`provider "${provider}" answered with error "${code}"`, {
        details: { provider, providerError: code },
      });
    }
    if (binding === undefined)
      throw OAuthErrors.STATE_INVALID(
        `the ${BINDING_COOKIE} cookie is missing: the sign-in did not start in this browser`,
      );
    if (typeof query.state !== 'string') throw OAuthErrors.STATE_INVALID('the callback carries no state');
    if (typeof query.code !== 'string' || query.code === '')
      throw OAuthErrors.CALLBACK_INVALID('the callback carries no authorization code');

    let outcome: Awaited<ReturnType<typeof runStrategy>>;
    try {
      outcome = await runStrategy({
        passport: deps.providers().passport,
        strategy: provider,
        req: req.raw,
        timeoutMs: config.timeoutMs,
      });
    } catch (err) {
      // Database and our own errors keep their meaning; anything else came from talking to the provider.
      if (GantryError.is(err)) throw err;
      throw OAuthErrors.EXCHANGE_FAILED(`the code of provider "${provider}" could not be exchanged`, {
        cause: err,
        details: { provider },
      });
    }
    if (outcome.kind !== 'success')
      throw OAuthErrors.STATE_INVALID('the state is unknown, expired, already used, or was started in another browser');
    appendSetCookie(reply.raw, clearedBindingCookie());

    const identity = outcome.user as ExternalIdentity;
    const pending = (outcome.info as { state: PendingSignIn }).state;
    if (identity.email === undefined || !identity.emailVerified) {
      throw OAuthErrors.EMAIL_UNVERIFIED(`provider "${provider}" did not give a verified email address`, {
        details: { provider },
      });
    }
    const linked = await users.linkOrCreateVerified({ email: identity.email, name: identity.name });
    if ('refused' in linked) {
      if (linked.refused === 'disabled')
        throw OAuthErrors.ACCOUNT_DISABLED('the account with this email address is disabled');
      throw OAuthErrors.LINK_REFUSED(
        'an account with this email address exists and has not verified it: it is not linked to a provider sign-in',
      );
    }
    const { user, created } = linked;
    await audit.record({
      action: 'auth.oauth.login',
      outcome: 'success',
      actor: { id: user.id, kind: 'user' },
      object: { type: 'user', id: user.id },
      details: { provider, mode: pending.mode, account: created ? 'created' : 'linked' },
      ...(req.ip ? { ip: req.ip } : {}),
    });
    const result = await users.continueLogin(user, { mode: pending.mode, method: `oauth:${provider}` }, req, reply);
    if (pending.mode === 'session' && 'session' in result) {
      // The session cookie is set; the browser goes on to the application.
      reply.status(303).header('Location', successUrl);
      return undefined;
    }
    return result;
  }
}
