import { defineErrors } from '@gantry/core';

/** Error registry of the `graphql` plugin (codes `GANTRY_GRAPHQL_<REASON>`, also sent in `extensions.code`). */
export const GraphqlErrors = defineErrors('graphql', {
  UNAUTHENTICATED: {
    status: 401,
    title: 'Authentication required',
    fix: 'send "Authorization: Bearer <access token>" (or the session cookie and the x-csrf-token header)',
  },
  FORBIDDEN: {
    status: 403,
    title: 'Field not allowed',
    fix: 'ask only for fields your roles grant (the error names the permission)',
  },
  TOO_DEEP: {
    status: 400,
    title: 'Query too deep',
    fix: 'nest selections less deeply (graphql.maxDepth), or split the query',
  },
  TOO_COMPLEX: {
    status: 400,
    title: 'Query too complex',
    fix: 'ask for fewer fields or smaller pages (graphql.maxComplexity), or split the query',
  },
  INVALID_QUERY: {
    status: 400,
    title: 'Invalid GraphQL request',
    fix: 'send a valid GraphQL document that matches the schema (see the error locations)',
  },
  PERSISTED_QUERY_NOT_FOUND: {
    status: 400,
    title: 'Persisted query not found',
    fix: 'send a sha256Hash from the allow-list (graphql.persistedQueries.documents), or the query text where allowed',
  },
  PERSISTED_QUERY_REQUIRED: {
    status: 400,
    title: 'Only persisted queries are allowed',
    fix: 'send one of the allow-listed documents (graphql.persistedQueries.only is on)',
  },
  NOT_ACCEPTABLE: {
    status: 406,
    title: 'Not acceptable',
    fix: 'accept application/graphql-response+json or application/json (UTF-8)',
  },
  INTERNAL: { status: 500, title: 'Internal error' },
  SCHEMA_INVALID: {
    status: 500,
    title: 'Contributed GraphQL schema is invalid',
    fix: 'correct the typeDefs or resolvers of the plugin named in the message',
  },
  FIELD_UNDECLARED: {
    status: 500,
    title: 'GraphQL root field without an access declaration',
    fix: 'declare access on every Query/Mutation/Subscription field: "public", "authenticated" or { permission: "<resource>:<action>" }',
  },
  FIELD_UNGUARDED: {
    status: 500,
    title: 'GraphQL field access cannot be enforced',
    fix: 'enable the plugin that enforces it (auth-jwt or sessions-redis to authenticate, rbac for permissions)',
  },
});
