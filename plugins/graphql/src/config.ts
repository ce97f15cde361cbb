import { z } from 'zod';

/** Options of the `graphql` plugin (config key `graphql`, env `GANTRY_GRAPHQL__<KEY>`). */
export const graphqlConfigSchema = z
  .object({
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9/_.-]*$/, 'must be a path such as /graphql')
      .default('/graphql')
      .describe('Path of the endpoint (GET and POST over HTTP, graphql-ws subscriptions on upgrade), at the root'),
    introspection: z
      .boolean()
      .optional()
      .describe('Allow introspection (__schema, __type); default: on in the embedded profile only'),
    maxDepth: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(8)
      .describe('Deepest selection nesting accepted; deeper documents are refused before execution'),
    maxComplexity: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(1_000)
      .describe(
        'Highest estimated cost accepted (1 per field unless a field declares its own); refused before execution',
      ),
    persistedQueries: z
      .object({
        documents: z
          .array(z.string().min(1))
          .default([])
          .describe(
            'Allow-listed documents; clients send extensions.persistedQuery.sha256Hash of one instead of the text',
          ),
        only: z.boolean().default(false).describe('Refuse any document that is not allow-listed (by its sha256 hash)'),
      })
      .strict()
      .default({ documents: [], only: false })
      .describe('Persisted queries (a sha256 allow-list)'),
    rateLimit: z
      .union([z.string().min(1), z.literal(false)])
      .default('default')
      .describe('rate-limit policy of the /graphql routes (root routes are exempt unless they name one); false: none'),
    subscriptions: z
      .boolean()
      .default(true)
      .describe('Serve subscriptions with the graphql-ws protocol on upgrade at the same path'),
    allowedOrigins: z
      .array(z.url())
      .default([])
      .describe(
        'Origins whose pages may open subscriptions with the session cookie (cross-site WebSocket hijacking defence)',
      ),
    connectionInitTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(5_000)
      .describe('How long a graphql-ws client may take to send connection_init (with its token) before it is closed'),
  })
  .strict();

/** Validated options of the `graphql` plugin. */
export type GraphqlConfig = z.output<typeof graphqlConfigSchema>;
