import { createHash } from 'node:crypto';
import { GantryError, type EventBus, type Logger, type Principal } from '@gantry/core';
import DataLoader from 'dataloader';
import {
  buildASTSchema,
  concatAST,
  GraphQLError,
  GraphQLObjectType,
  Kind,
  NoSchemaIntrospectionCustomRule,
  parse,
  specifiedRules,
  validate,
  type ASTVisitor,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLFieldResolver,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { createComplexityRule, fieldExtensionsEstimator, simpleEstimator } from 'graphql-query-complexity';
import type { GraphqlConfig } from './config.js';
import { GraphqlErrors } from './errors.js';
import type { RbacToken } from './peer-tokens.js';
import type { TokenType } from '@gantry/core';

/** Who may read a field: anyone, any signed-in caller, or holders of permissions (rbac). */
export type FieldAccess = 'public' | 'authenticated' | { readonly permission: string | readonly string[] };

/** What every resolver receives as its context. */
export interface GraphqlContext {
  /** The caller, set by the same authenticators as HTTP routes (undefined for anonymous callers). */
  readonly principal: Principal | undefined;
  /** The per-request DataLoader registered under `name` (see {@link GraphqlRegistry.loader}). */
  loader<K, V>(name: string): DataLoader<K, V>;
}

/** A field's resolver with its declarations. */
export interface FieldConfig {
  // biome-ignore lint/suspicious/noExplicitAny: resolvers receive whatever their parent returned.
  readonly resolve?: GraphQLFieldResolver<any, GraphqlContext, any>;
  /** Subscription fields: returns an AsyncIterable of events (see {@link GraphqlRegistry.events}). */
  // biome-ignore lint/suspicious/noExplicitAny: see resolve.
  readonly subscribe?: GraphQLFieldResolver<any, GraphqlContext, any>;
  /** Required on every Query/Mutation/Subscription field (the boot is refused without it); optional elsewhere. */
  readonly access?: FieldAccess;
  /** Cost of the field for the complexity limit: a number, or from its arguments and children's cost. */
  readonly complexity?:
    | number
    | ((options: { readonly args: Record<string, unknown>; readonly childComplexity: number }) => number);
}

/** What a plugin contributes: SDL (`type X {...}`, `extend type Query {...}`) and its resolvers. */
export interface GraphqlContribution {
  readonly typeDefs: string;
  /** Per type, per field: a resolver function, or a {@link FieldConfig} (root fields need one with `access`). */
  readonly resolvers?: Readonly<Record<string, Readonly<Record<string, FieldConfig | AnyResolver>>>>;
}

// biome-ignore lint/suspicious/noExplicitAny: resolvers receive whatever their parent returned.
type AnyResolver = GraphQLFieldResolver<any, GraphqlContext, any>;

interface StoredContribution extends GraphqlContribution {
  readonly plugin: string;
}

const ROOTS = ['Query', 'Mutation', 'Subscription'] as const;

/** Options of {@link GraphqlRegistry}. */
export interface RegistryOptions {
  readonly config: GraphqlConfig;
  readonly profile: string;
  readonly logger: Logger;
  readonly events: () => EventBus;
  readonly rbac?: TokenType<typeof RbacToken>;
  readonly authenticates: boolean;
}

/** A prepared operation, or the errors that refused it (before any resolver ran). */
export type Prepared = { readonly document: DocumentNode } | { readonly errors: readonly GraphQLError[] };

/**
 * Holds what plugins contribute, builds one executable schema at start (checking every root field
 * declares its access), and prepares operations: persisted-query lookup, parse, validation with the
 * depth, complexity and introspection rules, so a refused document never reaches a resolver.
 */
export class GraphqlRegistry {
  private readonly contributions: StoredContribution[] = [];
  private readonly loaders = new Map<string, (keys: readonly unknown[], ctx: GraphqlContext) => Promise<unknown[]>>();
  private built: GraphQLSchema | undefined;
  private rules: readonly ValidationRule[] = [];
  private readonly persisted = new Map<string, string>();
  private readonly introspection: boolean;
  private staticRules: readonly ValidationRule[] | undefined;
  private readonly parsed = new Map<string, DocumentNode>();
  private readonly valid = new WeakSet<DocumentNode>();

  constructor(private readonly options: RegistryOptions) {
    this.introspection = options.config.introspection ?? options.profile === 'embedded';
    for (const doc of options.config.persistedQueries.documents) this.persisted.set(sha256(doc), doc);
  }

  /** Adds types and resolvers (register time, like routes). `plugin` names the contributor in boot errors. */
  contribute(contribution: GraphqlContribution, plugin = 'anonymous'): void {
    if (this.built) throw GraphqlErrors.SCHEMA_INVALID(`plugin "${plugin}" contributed after the schema was built`);
    if (typeof contribution?.typeDefs !== 'string')
      throw GraphqlErrors.SCHEMA_INVALID(`plugin "${plugin}" contributed no typeDefs string`);
    this.contributions.push({ ...contribution, plugin });
  }

  /**
   * Registers a batch function: each request gets its own DataLoader (`ctx.loader(name)`), so the
   * loads of one request are batched into one call (no N+1) and never shared with another caller.
   */
  loader<K, V>(name: string, batch: (keys: readonly K[], ctx: GraphqlContext) => Promise<V[]>): void {
    if (this.loaders.has(name)) throw GraphqlErrors.SCHEMA_INVALID(`loader "${name}" is registered twice`);
    this.loaders.set(name, batch as (keys: readonly unknown[], ctx: GraphqlContext) => Promise<unknown[]>);
  }

  /** Adds a document to the persisted-query allow-list; returns its sha256 hash. */
  persist(document: string): string {
    const hash = sha256(document);
    this.persisted.set(hash, document);
    return hash;
  }

  /**
   * An AsyncIterable of the event bus's `topic` (payloads), for Subscription fields: bounded (the oldest
   * event is dropped past `buffer`), and unsubscribed when the client ends the subscription.
   */
  events<T>(topic: string, options: { filter?: (payload: T) => boolean; buffer?: number } = {}): AsyncIterable<T> {
    const bus = this.options.events();
    const limit = options.buffer ?? 100;
    return {
      [Symbol.asyncIterator]: (): AsyncIterator<T> => {
        const queue: T[] = [];
        let waiting: ((r: IteratorResult<T>) => void) | undefined;
        let done = false;
        const off = bus.subscribe<T>(topic, (event) => {
          if (done || (options.filter && !options.filter(event.payload))) return;
          if (waiting) {
            const w = waiting;
            waiting = undefined;
            w({ value: event.payload, done: false });
          } else {
            queue.push(event.payload);
            if (queue.length > limit) queue.shift();
          }
        });
        const finish = (): Promise<IteratorResult<T>> => {
          done = true;
          off();
          queue.length = 0;
          waiting?.({ value: undefined, done: true });
          waiting = undefined;
          return Promise.resolve({ value: undefined, done: true });
        };
        return {
          next: () => {
            if (queue.length) return Promise.resolve({ value: queue.shift()!, done: false });
            if (done) return Promise.resolve({ value: undefined, done: true });
            return new Promise((resolve) => {
              waiting = resolve;
            });
          },
          return: finish,
          throw: finish,
        };
      },
    };
  }

  /** The executable schema (built at start). */
  schema(): GraphQLSchema {
    if (!this.built) throw GraphqlErrors.INTERNAL('the GraphQL schema is not built yet (the plugin has not started)');
    return this.built;
  }

  /** A fresh resolver context for one operation. */
  context(principal: Principal | undefined): GraphqlContext {
    const made = new Map<string, DataLoader<unknown, unknown>>();
    const ctx: GraphqlContext = {
      principal,
      loader: <K, V>(name: string): DataLoader<K, V> => {
        let l = made.get(name);
        if (!l) {
          const batch = this.loaders.get(name);
          if (!batch) throw GraphqlErrors.INTERNAL(`no loader named "${name}" is registered`);
          l = new DataLoader<unknown, unknown>((keys) => batch(keys, ctx));
          made.set(name, l);
        }
        return l as unknown as DataLoader<K, V>;
      },
    };
    return ctx;
  }

  /** Builds and checks the schema: every root field declares access, and the access can be enforced. */
  build(): GraphQLSchema {
    if (this.built) return this.built;
    const documents: DocumentNode[] = [];
    for (const c of this.contributions) {
      try {
        documents.push(parse(c.typeDefs));
      } catch (err) {
        throw GraphqlErrors.SCHEMA_INVALID(`plugin "${c.plugin}": ${(err as Error).message}`, { cause: err });
      }
    }
    const extended = new Set<string>();
    for (const d of documents)
      for (const def of d.definitions)
        if (def.kind === Kind.OBJECT_TYPE_EXTENSION || def.kind === Kind.OBJECT_TYPE_DEFINITION)
          extended.add(def.name.value);
    const roots = ROOTS.filter((r) => r === 'Query' || extended.has(r));
    const defined = new Set(
      documents.flatMap((d) =>
        d.definitions
          .filter((x) => x.kind === Kind.OBJECT_TYPE_DEFINITION)
          .map((x) => (x as { name: { value: string } }).name.value),
      ),
    );
    const base = roots
      .filter((r) => !defined.has(r))
      .map((r) => `type ${r}`)
      .join('\n');
    let schema: GraphQLSchema;
    try {
      schema = buildASTSchema(concatAST([...(base ? [parse(base)] : []), ...documents]));
    } catch (err) {
      throw GraphqlErrors.SCHEMA_INVALID((err as Error).message, { cause: err });
    }
    const problems: string[] = [];
    const declared = new Map<string, { access?: FieldAccess; plugin: string }>();
    for (const c of this.contributions) {
      for (const [typeName, fields] of Object.entries(c.resolvers ?? {})) {
        const type = schema.getType(typeName);
        if (!(type instanceof GraphQLObjectType)) {
          problems.push(
            `plugin "${c.plugin}" has resolvers for ${typeName}, which is not an object type of the schema`,
          );
          continue;
        }
        const typeFields = type.getFields();
        for (const [fieldName, given] of Object.entries(fields)) {
          const field = typeFields[fieldName];
          if (!field) {
            problems.push(
              `plugin "${c.plugin}" has a resolver for ${typeName}.${fieldName}, which is not in the schema`,
            );
            continue;
          }
          const configured: FieldConfig = typeof given === 'function' ? { resolve: given } : given;
          if (configured.access !== undefined && !validAccess(configured.access))
            problems.push(
              `${typeName}.${fieldName} (plugin "${c.plugin}") declares access ${JSON.stringify(configured.access)}: expected "public", "authenticated" or { permission: "<resource>:<action>" }`,
            );
          declared.set(`${typeName}.${fieldName}`, { access: configured.access, plugin: c.plugin });
          const guard = configured.access ? this.guard(configured.access, `${typeName}.${fieldName}`) : undefined;
          const resolve = configured.resolve;
          if (resolve || guard)
            field.resolve = guard
              ? async (source, args, ctx: GraphqlContext, info) => {
                  await guard(ctx);
                  return resolve ? resolve(source, args, ctx, info) : (source as Record<string, unknown>)?.[fieldName];
                }
              : resolve;
          if (configured.subscribe) {
            const subscribe = configured.subscribe;
            field.subscribe = guard
              ? async (source, args, ctx: GraphqlContext, info) => {
                  await guard(ctx);
                  return subscribe(source, args, ctx, info);
                }
              : subscribe;
            // A subscription field's value is the event itself unless a resolver maps it.
            if (!resolve) field.resolve = (event: unknown) => event;
          }
          if (configured.complexity !== undefined) {
            const complexity = configured.complexity;
            (field as { extensions: Record<string, unknown> }).extensions = { ...field.extensions, complexity };
          }
        }
      }
    }
    for (const root of roots) {
      const type = schema.getType(root);
      if (!(type instanceof GraphQLObjectType)) continue;
      for (const name of Object.keys(type.getFields())) {
        const d = declared.get(`${root}.${name}`);
        if (!d?.access) problems.push(`${root}.${name}${d ? ` (plugin "${d.plugin}")` : ''} declares no access`);
      }
    }
    const undeclared = problems.filter((p) => p.endsWith('declares no access'));
    if (undeclared.length)
      throw GraphqlErrors.FIELD_UNDECLARED(
        `${undeclared.length} GraphQL root field(s) do not say who may call them:\n  - ${undeclared.join('\n  - ')}`,
        { details: { fields: undeclared } },
      );
    if (problems.length)
      throw GraphqlErrors.SCHEMA_INVALID(`${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`, {
        details: { problems },
      });
    const unguarded: string[] = [];
    for (const [field, d] of declared) {
      if (d.access && d.access !== 'public' && !this.options.authenticates)
        unguarded.push(`${field} needs a signed-in caller but neither "auth-jwt" nor "sessions-redis" is enabled`);
      if (typeof d.access === 'object' && !this.options.rbac)
        unguarded.push(`${field} requires a permission but "rbac" is not enabled`);
    }
    if (unguarded.length)
      throw GraphqlErrors.FIELD_UNGUARDED(
        `${unguarded.length} GraphQL field(s) would be open to anyone:\n  - ${unguarded.join('\n  - ')}`,
        { details: { problems: unguarded } },
      );
    this.built = schema;
    this.rules = [
      ...specifiedRules,
      depthRule(this.options.config.maxDepth),
      ...(this.introspection ? [] : [NoSchemaIntrospectionCustomRule]),
    ];
    return schema;
  }

  /** Whether introspection is served. */
  introspects(): boolean {
    return this.introspection;
  }

  /**
   * Resolves a persisted query (or refuses a document outside the allow-list in `only` mode): the
   * document text to run, or the coded error.
   */
  resolveDocument(query: unknown, extensions: unknown): { query: string } | { error: GraphQLError } {
    const hash = (extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery?.sha256Hash;
    if (typeof hash === 'string') {
      const known = this.persisted.get(hash);
      if (known === undefined || (typeof query === 'string' && sha256(query) !== hash))
        return {
          error: coded(GraphqlErrors.PERSISTED_QUERY_NOT_FOUND('no allow-listed document has this sha256Hash')),
        };
      return { query: known };
    }
    if (typeof query !== 'string')
      return { error: coded(GraphqlErrors.INVALID_QUERY('the request has no "query" string')) };
    if (this.options.config.persistedQueries.only && !this.persisted.has(sha256(query)))
      return { error: coded(GraphqlErrors.PERSISTED_QUERY_REQUIRED('this server runs allow-listed documents only')) };
    return { query };
  }

  /** Parses and validates a document with every rule (depth, complexity, introspection): nothing runs when it fails. */
  prepare(query: string, variables: Record<string, unknown> | undefined, operationName: string | undefined): Prepared {
    const schema = this.schema();
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (err) {
      return { errors: [withCode(err as GraphQLError, GraphqlErrors.INVALID_QUERY.code)] };
    }
    const errors = validate(schema, document, [...this.rules, this.complexityRule(variables, operationName)]);
    if (errors.length) return { errors: errors.map((e) => withCode(e, GraphqlErrors.INVALID_QUERY.code)) };
    return { document };
  }

  /** The validation rules, complexity included, for a request's variables (graphql-http's validationRules). */
  validationRules(
    variables: Record<string, unknown> | undefined,
    operationName: string | undefined,
  ): readonly ValidationRule[] {
    this.schema();
    // Without variables the outcome depends on the document alone: one shared rule list marks it cacheable.
    if ((variables === undefined || Object.keys(variables).length === 0) && operationName === undefined) {
      this.staticRules ??= [...this.rules, this.complexityRule(undefined, undefined)];
      return this.staticRules;
    }
    return [...this.rules, this.complexityRule(variables, operationName)];
  }

  /**
   * Parses with a bounded cache: the same document text gives the same DocumentNode, so a document that
   * passed validation (with the variable-free rules) is not validated again.
   */
  parse(source: string | { body: string }): DocumentNode {
    const text = typeof source === 'string' ? source : source.body;
    const hit = this.parsed.get(text);
    if (hit) return hit;
    const document = parse(text);
    if (text.length <= 10_000) {
      if (this.parsed.size >= 500) this.parsed.delete(this.parsed.keys().next().value!);
      this.parsed.set(text, document);
    }
    return document;
  }

  /** graphql-js's validate, skipped for a cached document that already passed the same (variable-free) rules. */
  validate(schema: GraphQLSchema, document: DocumentNode, rules: readonly ValidationRule[]): readonly GraphQLError[] {
    const cacheable = rules === this.staticRules && schema === this.built;
    if (cacheable && this.valid.has(document)) return [];
    const errors = validate(schema, document, rules);
    if (cacheable && errors.length === 0) this.valid.add(document);
    return errors;
  }

  private complexityRule(
    variables: Record<string, unknown> | undefined,
    operationName: string | undefined,
  ): ValidationRule {
    const max = this.options.config.maxComplexity;
    return createComplexityRule({
      maximumComplexity: max,
      variables: variables ?? {},
      operationName,
      estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
      createError: (limit, actual) =>
        coded(
          GraphqlErrors.TOO_COMPLEX(`the query costs ${actual}, over the limit of ${limit}`, {
            details: { limit, actual },
          }),
        ),
    }) as unknown as ValidationRule;
  }

  /** The check of one declared access, run before the field's resolver. */
  private guard(access: FieldAccess, field: string): ((ctx: GraphqlContext) => Promise<void>) | undefined {
    if (access === 'public') return undefined;
    const needed =
      access === 'authenticated'
        ? []
        : typeof access.permission === 'string'
          ? [access.permission]
          : [...access.permission];
    return async (ctx) => {
      const principal = ctx?.principal;
      if (!principal) throw GraphqlErrors.UNAUTHENTICATED(`${field} needs a signed-in caller`);
      if (needed.length === 0) return;
      const held = principal.permissions;
      const ok = Array.isArray(held)
        ? needed.every((p) => held.includes(p))
        : await this.options.rbac!.can(principal.id, ...needed);
      if (!ok) throw GraphqlErrors.FORBIDDEN(`${field} requires ${needed.join(', ')}`, { details: { needed, field } });
    };
  }
}

/** A GraphQL error carrying a GantryError's code and status in `extensions`. */
export function coded(error: GantryError): GraphQLError {
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: { code: error.code, status: error.status },
  });
}

function withCode(error: GraphQLError, code: string): GraphQLError {
  if (error.extensions?.code) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code },
  });
}

/**
 * Formats an error for the response: the Gantry code and status in `extensions`; an unexpected error is
 * logged and answered as GANTRY_GRAPHQL_INTERNAL without its message.
 */
export function formatError(err: GraphQLError | Error, logger: Logger): GraphQLFormattedError {
  // graphql-http raises plain Errors for the request itself (missing query, unparsable JSON or variables).
  if (!(err instanceof GraphQLError))
    return { message: err.message, extensions: { code: GraphqlErrors.INVALID_QUERY.code, status: 400 } };
  const error = err;
  const original = error.originalError;
  const base = error.toJSON();
  if (original instanceof GantryError) {
    return {
      ...base,
      message: original.message,
      extensions: { ...base.extensions, code: original.code, status: original.status },
    };
  }
  if (error.extensions?.code) return base;
  if (original && !(original instanceof GraphQLError)) {
    logger.error({ err: original, path: error.path }, 'graphql resolver failed');
    return {
      message: 'internal error',
      ...(base.locations ? { locations: base.locations } : {}),
      ...(base.path ? { path: base.path } : {}),
      extensions: { code: GraphqlErrors.INTERNAL.code, status: 500 },
    };
  }
  return { ...base, extensions: { ...base.extensions, code: GraphqlErrors.INVALID_QUERY.code, status: 400 } };
}

/** Refuses operations nesting selections deeper than `max` (fragments followed, cycles are another rule's). */
export function depthRule(max: number): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const def of context.getDocument().definitions)
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
    const depthOf = (set: SelectionSetNode | undefined, depth: number, seen: Set<string>): number => {
      if (!set) return depth;
      let deepest = depth;
      for (const s of set.selections) {
        if (s.kind === Kind.FIELD) {
          const field = s as FieldNode;
          // Introspection meta-fields (__typename...) are not part of the application's data graph.
          if (field.name.value.startsWith('__') && !field.selectionSet) continue;
          deepest = Math.max(deepest, depthOf(field.selectionSet, depth + 1, seen));
        } else if (s.kind === Kind.INLINE_FRAGMENT) deepest = Math.max(deepest, depthOf(s.selectionSet, depth, seen));
        else {
          const name = s.name.value;
          if (seen.has(name)) continue;
          const fragment = fragments.get(name);
          if (fragment) deepest = Math.max(deepest, depthOf(fragment.selectionSet, depth, new Set([...seen, name])));
        }
        if (deepest > max) return deepest;
      }
      return deepest;
    };
    return {
      OperationDefinition(node) {
        const depth = depthOf(node.selectionSet, 0, new Set());
        if (depth > max)
          context.reportError(
            coded(
              GraphqlErrors.TOO_DEEP(
                `operation ${node.name ? `"${node.name.value}" ` : ''}nests ${depth} levels, over the limit of ${max}`,
                { details: { limit: max, depth } },
              ),
            ),
          );
      },
    };
  };
}

function validAccess(access: unknown): access is FieldAccess {
  if (access === 'public' || access === 'authenticated') return true;
  if (typeof access !== 'object' || access === null) return false;
  const p = (access as { permission?: unknown }).permission;
  const list = typeof p === 'string' ? [p] : p;
  return Array.isArray(list) && list.length > 0 && list.every((x) => typeof x === 'string' && x.includes(':'));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
