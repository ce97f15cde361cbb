/**
 * A typed injection token. At runtime it is a unique symbol (so tsyringe's `@inject(token)` accepts
 * it directly); at compile time it carries the type it resolves to.
 */
export type Token<T> = symbol & { readonly __gantryTokenType?: () => T };

/** The type a token resolves to. */
export type TokenType<K> = K extends Token<infer T> ? T : never;

/** Creates a typed token. Use a namespaced name, e.g. `token<Database>('database.Database')`. */
export function token<T>(name: string): Token<T> {
  return Symbol(name) as Token<T>;
}

/** The readable name of a token (its symbol description). */
export function tokenName(t: Token<unknown> | symbol): string {
  return t.description ?? t.toString();
}
