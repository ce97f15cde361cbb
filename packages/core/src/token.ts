/**
 * A typed injection token. At runtime it is a symbol from the global registry (`Symbol.for(name)`),
 * so tsyringe's `@inject(token)` accepts it directly; at compile time it carries the type it resolves to.
 */
export type Token<T> = symbol & { readonly __gantryTokenType?: () => T };

/** The type a token resolves to. */
export type TokenType<K> = K extends Token<infer T> ? T : never;

/**
 * Creates a typed token, keyed by its name: `token<Database>('gantry.database.Database')` returns the
 * same symbol wherever it is called. A plugin can therefore declare the token of an optional
 * collaborator itself (with a type-only import of its type) instead of importing the package that
 * provides it, which then need not be installed. Names are global: namespace them
 * (`gantry.<plugin>.<Service>` for Gantry's own, your package name for yours).
 */
export function token<T>(name: string): Token<T> {
  return Symbol.for(name) as Token<T>;
}

/** The readable name of a token (its symbol description). */
export function tokenName(t: Token<unknown> | symbol): string {
  return t.description ?? t.toString();
}
