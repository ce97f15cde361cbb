/** Permission names: `resource:action`, lower case (`users:read`, `audit:read`, `sessions:revoke`). */
export const PERMISSION_PATTERN = /^[a-z][a-z0-9-]{0,47}:[a-z][a-z0-9-]{0,47}$/;
/** Role names. */
export const ROLE_PATTERN = /^[a-z][a-z0-9-]{0,47}$/;

/** The declaration of a route any signed-in caller may use (own profile, own sessions): authentication, no permission. */
export const ANY_AUTHENTICATED = 'authenticated';

/** The built-in role granted every permission. */
export const ADMIN_ROLE = 'admin';
/** The built-in role of every new account: self-service routes only (they declare "authenticated"). */
export const USER_ROLE = 'user';

/**
 * Route metadata requiring every permission given (and therefore authentication):
 * `ctx.http.delete('/users/:id', { meta: { ...requires('users:write') } }, handler)`.
 */
export function requires(...permissions: [string, ...string[]]): {
  readonly auth: true;
  readonly permission: string | readonly string[];
} {
  return { auth: true, permission: permissions.length === 1 ? permissions[0] : permissions };
}

/** Route metadata for "any signed-in caller": authenticated, no particular permission. */
export function authenticated(): { readonly auth: true; readonly permission: typeof ANY_AUTHENTICATED } {
  return { auth: true, permission: ANY_AUTHENTICATED };
}

/** The permissions a `meta.permission` value names (empty for "authenticated"); undefined when malformed. */
export function declaredPermissions(value: unknown): readonly string[] | undefined {
  if (value === ANY_AUTHENTICATED) return [];
  const list = typeof value === 'string' ? [value] : Array.isArray(value) && value.length > 0 ? value : undefined;
  if (!list?.every((p): p is string => typeof p === 'string' && PERMISSION_PATTERN.test(p))) return undefined;
  return list;
}
