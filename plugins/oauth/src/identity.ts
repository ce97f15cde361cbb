/** Who the provider says signed in, reduced to what account linking needs. */
export interface ExternalIdentity {
  /** Undefined when the provider gave none (or not an address). */
  readonly email: string | undefined;
  /** True only when the provider states it verified the address. */
  readonly emailVerified: boolean;
  readonly name: string;
}

/** The part of a passport profile the identities are read from. */
export interface PassportProfile {
  readonly displayName?: string;
  readonly emails?: ReadonlyArray<{ readonly value?: unknown; readonly verified?: unknown }>;
}

const MAX_EMAIL = 254;

function asEmail(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const email = value.trim();
  return email.length <= MAX_EMAIL && /^[^\s@]+@[^\s@]+$/.test(email) ? email : undefined;
}

function asName(value: unknown, email: string | undefined): string {
  const name = typeof value === 'string' ? value.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim() : '';
  return name || (email ? email.split('@')[0]! : '');
}

/**
 * Google (passport-google-oauth20 reading the OpenID user info): `emails[0].verified` is the
 * `email_verified` claim; anything but `true` counts as unverified.
 */
export function googleIdentity(profile: PassportProfile): ExternalIdentity {
  const first = profile.emails?.[0];
  const email = asEmail(first?.value);
  return {
    email,
    emailVerified: email !== undefined && first?.verified === true,
    name: asName(profile.displayName, email),
  };
}

/**
 * Facebook (passport-facebook): the Graph API has no verified flag; it returns `email` only for a
 * confirmed address of the account, so a returned address counts as verified.
 */
export function facebookIdentity(profile: PassportProfile): ExternalIdentity {
  const email = asEmail(profile.emails?.[0]?.value);
  return { email, emailVerified: email !== undefined, name: asName(profile.displayName, email) };
}

/** Any OIDC issuer: the `email` claim counts only with `email_verified` exactly `true`. */
export function oidcIdentity(claims: Readonly<Record<string, unknown>>): ExternalIdentity {
  const email = asEmail(claims.email);
  return {
    email,
    emailVerified: email !== undefined && claims.email_verified === true,
    name: asName(claims.name, email),
  };
}
