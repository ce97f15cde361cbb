import type { Logger } from '@gantry/core';
import type { OAuth2 } from 'oauth';
import { createRequire } from 'node:module';
import passport from 'passport';
import type * as PassportFacebook from 'passport-facebook';
import type * as PassportGoogle from 'passport-google-oauth20';
import type OAuth2Strategy from 'passport-oauth2';
import type { FacebookConfig, GoogleConfig, OAuthConfig } from './config.js';
import { OAuthErrors } from './errors.js';
import { facebookIdentity, googleIdentity } from './identity.js';
import { IssuerDiscovery, OidcSignIn, OidcStrategy, type DiscoveryStatus } from './oidc-strategy.js';
import { PassportStateStore } from './passport-state-store.js';
import type { StateStore } from './state-store.js';

/** One configured provider. */
export interface Provider {
  /** The `:provider` of the routes, and the passport strategy's name. */
  readonly name: string;
  /** OIDC providers only. */
  readonly discovery?: IssuerDiscovery;
  /** OIDC providers only: when the issuer is discovered. */
  readonly discoverAt?: 'start' | 'first-use';
}

/** Options of {@link Providers}. */
export interface ProvidersOptions {
  readonly config: OAuthConfig;
  /** The redirect URI of a provider (built from `callbackBaseUrl`). */
  readonly callbackUrl: (provider: string) => string;
  readonly states: StateStore;
  readonly logger: Logger;
}

type Verified = (err: unknown, user?: object) => void;

/**
 * The configured providers and the one passport instance (this plugin's own, never passport's global
 * singleton: two kernels in a process do not share strategies) that runs their strategies. Every
 * strategy is built once, at register, with PKCE (S256) and the database state store.
 */
export class Providers {
  /** Runs the strategies, always with `session: false`. */
  readonly passport = new passport.Passport();
  private readonly byName = new Map<string, Provider>();

  constructor(options: ProvidersOptions) {
    const { config, callbackUrl, states } = options;
    const { google, facebook, oidc } = config.providers;
    if (google) this.add({ name: 'google' }, googleStrategy(google, callbackUrl('google'), states));
    if (facebook) this.add({ name: 'facebook' }, facebookStrategy(facebook, callbackUrl('facebook'), states));
    for (const [name, entry] of Object.entries(oidc)) {
      const discovery = new IssuerDiscovery({
        name,
        config: entry,
        timeoutMs: config.timeoutMs,
        logger: options.logger,
      });
      const signIn = new OidcSignIn({ name, config: entry, discovery, callbackUrl: callbackUrl(name), states });
      // passport's Strategy type cannot express a `this` with the strategy's own members; the shape is the same.
      this.add(
        { name, discovery, discoverAt: entry.discover },
        new OidcStrategy(name, signIn) as unknown as passport.Strategy,
      );
    }
  }

  /** The provider of that name; 404 GANTRY_OAUTH_UNKNOWN_PROVIDER when none is configured. */
  get(name: string): Provider {
    const provider = this.byName.get(name);
    if (!provider)
      throw OAuthErrors.UNKNOWN_PROVIDER(`no sign-in provider is named ${JSON.stringify(name.slice(0, 64))}`, {
        details: { known: this.names() },
      });
    return provider;
  }

  /** The configured provider names. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * Discovers every OIDC issuer read at start (`discover: "start"`, the default); an unreachable one
   * is logged and retried on its next sign-in. A `first-use` issuer is read at its first sign-in.
   */
  async discoverAll(): Promise<void> {
    await Promise.all(
      [...this.byName.values()]
        .filter((p) => p.discoverAt === 'start')
        .map((p) => p.discovery?.configuration().catch(() => undefined)),
    );
  }

  /** Discovery status of each OIDC provider. */
  discoveryStatus(): Record<string, DiscoveryStatus> {
    const out: Record<string, DiscoveryStatus> = {};
    for (const p of this.byName.values()) if (p.discovery) out[p.name] = p.discovery.status();
    return out;
  }

  private add(provider: Provider, strategy: passport.Strategy): void {
    this.byName.set(provider.name, provider);
    this.passport.use(provider.name, strategy);
  }
}

/** passport-oauth2 types the store without its PKCE form; ours is the PKCE form (see {@link PassportStateStore}). */
function pkceStore(provider: string, states: StateStore): OAuth2Strategy.StateStore {
  return new PassportStateStore(provider, states) as unknown as OAuth2Strategy.StateStore;
}

// The Google and Facebook strategies are loaded only when that provider is configured.
const require = createRequire(import.meta.url);

function googleStrategy(config: GoogleConfig, callbackURL: string, states: StateStore): passport.Strategy {
  const { Strategy: GoogleStrategy } = require('passport-google-oauth20') as typeof PassportGoogle;
  const strategy = new GoogleStrategy(
    {
      clientID: config.clientId,
      clientSecret: config.clientSecret,
      callbackURL,
      scope: [...config.scopes],
      pkce: true,
      store: pkceStore('google', states),
      ...(config.authorizationUrl ? { authorizationURL: config.authorizationUrl } : {}),
      ...(config.tokenUrl ? { tokenURL: config.tokenUrl } : {}),
      ...(config.userInfoUrl ? { userProfileURL: config.userInfoUrl } : {}),
    },
    // Four parameters: passport-oauth2 picks the (accessToken, refreshToken, profile, done) form by arity.
    (_accessToken: string, _refreshToken: string, profile: Parameters<typeof googleIdentity>[0], done: Verified) =>
      done(null, googleIdentity(profile)),
  );
  // The access token goes in the Authorization header, not in the user info URL (where it would be logged).
  (strategy as unknown as { _oauth2: OAuth2 })._oauth2.useAuthorizationHeaderforGET(true);
  return strategy;
}

function facebookStrategy(config: FacebookConfig, callbackURL: string, states: StateStore): passport.Strategy {
  const { Strategy: FacebookStrategy } = require('passport-facebook') as typeof PassportFacebook;
  return new FacebookStrategy(
    {
      clientID: config.clientId,
      clientSecret: config.clientSecret,
      callbackURL,
      scope: [...config.scopes],
      graphAPIVersion: config.graphApiVersion,
      // Graph API fields id, name, email; appsecret_proof signs each Graph call with the app secret.
      profileFields: ['id', 'displayName', 'emails'],
      enableProof: true,
      pkce: true,
      store: pkceStore('facebook', states),
      ...(config.authorizationUrl ? { authorizationURL: config.authorizationUrl } : {}),
      ...(config.tokenUrl ? { tokenURL: config.tokenUrl } : {}),
      ...(config.profileUrl ? { profileURL: config.profileUrl } : {}),
    },
    (_accessToken: string, _refreshToken: string, profile: Parameters<typeof facebookIdentity>[0], done: Verified) =>
      done(null, facebookIdentity(profile)),
  );
}
