import type { IncomingMessage } from 'node:http';
import type { Logger } from '@gantry/core';
import * as client from 'openid-client';
import type { StrategyCreatedStatic } from 'passport';
import { readBinding } from './binding-cookie.js';
import type { OidcConfig } from './config.js';
import { errorName, OAuthErrors } from './errors.js';
import { oidcIdentity, type ExternalIdentity } from './identity.js';
import { deliver, STATE_INVALID, type StartState } from './passport-state-store.js';
import type { PendingSignIn, StateStore } from './state-store.js';

/** The request as express hands it to passport: the parsed query and the URL as received. */
export type StrategyRequest = IncomingMessage & { readonly query?: unknown; readonly originalUrl?: string };

/** Where an issuer's discovery stands, for the readiness check. */
export type DiscoveryStatus = 'pending' | 'ready' | 'failed';

/** Options of {@link IssuerDiscovery}. */
export interface IssuerDiscoveryOptions {
  readonly name: string;
  readonly config: OidcConfig;
  readonly timeoutMs: number;
  readonly logger: Logger;
}

/**
 * An issuer's metadata and client configuration, discovered once (at start, or on first use when the
 * issuer was unreachable then). A failed discovery is not kept: the next use tries again.
 */
export class IssuerDiscovery {
  private current: Promise<client.Configuration> | undefined;
  private state: DiscoveryStatus = 'pending';

  constructor(private readonly options: IssuerDiscoveryOptions) {}

  /** Where the discovery stands. */
  status(): DiscoveryStatus {
    return this.state;
  }

  /** The client configuration; rejects with GANTRY_OAUTH_PROVIDER_UNAVAILABLE when the issuer cannot be discovered. */
  configuration(): Promise<client.Configuration> {
    this.current ??= this.discover().then(
      (configuration) => {
        this.state = 'ready';
        return configuration;
      },
      (err: unknown) => {
        this.current = undefined;
        this.state = 'failed';
        const { name, config } = this.options;
        this.options.logger.warn(
          { provider: name, issuer: config.issuer, err: errorName(err) },
          'oauth issuer discovery failed',
        );
        throw OAuthErrors.PROVIDER_UNAVAILABLE(
          `the issuer of provider "${name}" (${config.issuer}) could not be discovered`,
          { cause: err, details: { provider: name } },
        );
      },
    );
    return this.current;
  }

  private discover(): Promise<client.Configuration> {
    const { config, timeoutMs } = this.options;
    const issuer = new URL(config.issuer);
    const auth =
      config.tokenEndpointAuthMethod === 'client_secret_post'
        ? client.ClientSecretPost(config.clientSecret)
        : client.ClientSecretBasic(config.clientSecret);
    // The config schema admits http only for loopback issuers (local development and tests).
    const execute = issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [];
    return client.discovery(issuer, config.clientId, undefined, auth, {
      execute,
      timeout: Math.ceil(timeoutMs / 1000),
    });
  }
}

/** Options of {@link OidcSignIn}. */
export interface OidcSignInOptions {
  readonly name: string;
  readonly config: OidcConfig;
  readonly discovery: IssuerDiscovery;
  readonly callbackUrl: string;
  readonly states: StateStore;
}

/** What a callback that checks out yields: who signed in, and the sign-in it finishes. */
export interface OidcSignInResult {
  readonly identity: ExternalIdentity;
  readonly pending: PendingSignIn;
}

/** The two halves of an OIDC sign-in on openid-client's functions: the authorization request and the callback. */
export class OidcSignIn {
  constructor(private readonly options: OidcSignInOptions) {}

  /** Stores a new sign-in (state, nonce, PKCE verifier) and returns the provider's authorization URL. */
  async authorizationUrl(start: StartState): Promise<string> {
    const { name, config, discovery, callbackUrl, states } = this.options;
    const configuration = await discovery.configuration();
    const codeVerifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = await states.create({
      provider: name,
      mode: start.mode,
      codeVerifier,
      nonce,
      binding: start.binding,
    });
    const url = client.buildAuthorizationUrl(configuration, {
      redirect_uri: callbackUrl,
      scope: config.scopes.join(' '),
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return url.href;
  }

  /**
   * Consumes the state (undefined when it does not check out), then exchanges the code with the PKCE
   * verifier, checks state, nonce and ID token, and reads the user info claims.
   */
  async callback(req: StrategyRequest, state: unknown): Promise<OidcSignInResult | undefined> {
    const { name, discovery, callbackUrl, states } = this.options;
    const binding = readBinding(req.headers);
    if (typeof state !== 'string' || binding === undefined) return undefined;
    const pending = await states.consume({ provider: name, state, binding });
    if (!pending) return undefined;
    const configuration = await discovery.configuration();
    // The response is checked against the configured redirect URI, never against the Host header.
    const currentUrl = new URL(callbackUrl);
    currentUrl.search = new URL(req.originalUrl ?? req.url ?? '', 'http://callback.invalid').search;
    const tokens = await client.authorizationCodeGrant(configuration, currentUrl, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: state,
      expectedNonce: pending.nonce,
    });
    const idClaims = tokens.claims();
    if (!idClaims) throw OAuthErrors.EXCHANGE_FAILED(`provider "${name}" returned no ID token`);
    let claims: Record<string, unknown> = { ...idClaims };
    if (configuration.serverMetadata().userinfo_endpoint) {
      claims = { ...claims, ...(await client.fetchUserInfo(configuration, tokens.access_token, idClaims.sub)) };
    }
    return { identity: oidcIdentity(claims), pending };
  }
}

/**
 * A passport strategy for any OpenID Connect issuer. openid-client's own passport strategy keeps its
 * state in express-session and sends `state` only to issuers without PKCE; this one always sends
 * `state`, `nonce` and an S256 `code_challenge`, kept in the database bound to the browser (see
 * {@link OidcSignIn}). Its success "user" is the {@link ExternalIdentity}; `info.state` is the pending
 * sign-in, as with passport-oauth2 strategies.
 */
export class OidcStrategy {
  constructor(
    readonly name: string,
    readonly signIn: OidcSignIn,
  ) {}

  /** Called by passport on `Object.create(this)` with its actions (redirect, success, fail, error) added. */
  authenticate(
    this: OidcStrategy & StrategyCreatedStatic,
    req: StrategyRequest,
    options?: { state?: StartState },
  ): void {
    const query = (req.query ?? {}) as Record<string, unknown>;
    if (query.code === undefined) {
      const start = options?.state;
      if (!start) {
        this.error(OAuthErrors.STATE_INVALID('a sign-in cannot start without a browser binding'));
        return;
      }
      deliver(this.signIn.authorizationUrl(start), (err, url) => (err ? this.error(err) : this.redirect(url!)));
    } else {
      deliver(this.signIn.callback(req, query.state), (err, result) => {
        if (err) this.error(err);
        else if (result) this.success(result.identity, { state: result.pending });
        else this.fail(STATE_INVALID, 400);
      });
    }
  }
}
