import { token } from '@gantry/core';
import type { GraphqlRegistry } from './registry.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { GraphqlRegistry } from './registry.js';

/** The GraphQL registry: plugins contribute types, resolvers, access declarations and batch loaders. */
export const GraphqlToken = token<GraphqlRegistry>('gantry.graphql.Registry');
