/** @gantry/plugin-graphql: GraphQL over HTTP and WebSocket for Gantry, with a schema contributed by plugins. */
export { plugin } from './plugin.js';
export { GraphqlToken } from './tokens.js';
export { GraphqlErrors } from './errors.js';
export {
  coded,
  depthRule,
  GraphqlRegistry,
  type FieldAccess,
  type FieldConfig,
  type GraphqlContext,
  type GraphqlContribution,
} from './registry.js';
export { graphqlConfigSchema, type GraphqlConfig } from './config.js';
