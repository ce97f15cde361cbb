import { distance } from 'fastest-levenshtein';

/**
 * The plugins published as `@gantry/plugin-<name>` (plus `http`, published as `@gantry/http`): the
 * names a misspelled short name is compared with, and the only short names whose fix may say
 * "npm install" (so a typo never becomes an install command for a package nobody published).
 */
export const OFFICIAL_PLUGINS: readonly string[] = Object.freeze([
  'http',
  'metrics',
  'database',
  'circuit-breaker',
  'mailer',
  'redis',
  'rate-limit',
  'auth-jwt',
  'audit',
  'rbac',
  'users',
  'sessions-redis',
  'mfa',
  'oauth',
  'kafka-events',
  'consul-config',
  'elk-logger',
  'openapi',
  'graphql',
  'websocket',
]);

/**
 * The candidate closest to `input` when it is close enough to be a typo (case-insensitive; at most
 * a third of the longer name, rounded up, may differ: "prot" for "port" is two edits; never more than 3).
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  const lower = input.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === input) continue;
    const d = distance(lower, candidate.toLowerCase());
    const allowed = Math.min(3, Math.ceil(Math.max(lower.length, candidate.length) / 3));
    if (d <= allowed && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** `" (did you mean "x"?)"` when a candidate is close, else an empty string. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const match = closest(input, candidates);
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}

/** The official plugin a token belongs to, read from its name (`gantry.<plugin>.<Name>`), if any. */
export function officialOwnerOf(tokenName: string): string | undefined {
  const owner = /^gantry\.([a-z][a-z0-9-]*)\./.exec(tokenName)?.[1];
  if (owner === undefined) return undefined;
  // Tokens are named after the plugin, with one historical short form.
  const name = owner === 'sessions' ? 'sessions-redis' : owner;
  return OFFICIAL_PLUGINS.includes(name) ? name : undefined;
}
