import { z } from 'zod';

/** `resource:action`, as rbac declares permissions. */
const PERMISSION = /^[a-z][a-z0-9-]*:[a-z][a-z0-9-]*$/;

/** Options of the `openapi` plugin (config key `openapi`, env `GANTRY_OPENAPI__<KEY>`). */
export const openapiConfigSchema = z
  .object({
    enabled: z
      .boolean()
      .default(true)
      .describe('Serve the document and Swagger UI; false registers no route at all (e.g. in production profiles)'),
    access: z
      .union([
        z.literal('public'),
        z.literal('authenticated'),
        z.object({ permission: z.string().regex(PERMISSION, 'must look like "resource:action"') }).strict(),
      ])
      .default('public')
      .describe(
        'Who may read the document and the UI: "public" (served at the server root), "authenticated" or { "permission": "docs:read" } (served under the API base path, where authenticators and rbac guard routes)',
      ),
    title: z.string().min(1).max(200).default('Gantry API').describe('info.title of the document'),
    version: z.string().min(1).max(50).default('0.1.0').describe('info.version of the document (the API version)'),
    description: z.string().max(10_000).optional().describe('info.description of the document (Markdown)'),
    servers: z
      .array(z.string().min(1).max(500))
      .default([])
      .describe('Server URLs of the document; none: Swagger UI calls the server that served it'),
    apis: z
      .array(z.string().min(1).max(500))
      .default([])
      .describe(
        'Globs (relative to the application directory) of source files whose `@openapi` JSDoc blocks (swagger-jsdoc) add prose, examples and responses to the generated document',
      ),
    annotationsCache: z
      .union([z.boolean(), z.string().min(1).max(500)])
      .default(true)
      .describe(
        'Keep what was read from the `apis` files in a cache file, used while they match byte for byte: true (`node_modules/.cache/gantry-openapi` in the application directory), a folder (relative to it), or false',
      ),
    ui: z.boolean().default(true).describe('Serve Swagger UI (self-hosted swagger-ui-dist) at `/docs`'),
    persistAuthorization: z
      .boolean()
      .default(false)
      .describe("Swagger UI keeps the bearer token in the browser's localStorage across reloads"),
    sessionCookie: z
      .string()
      .min(1)
      .max(64)
      .default('__Host-gantry.sid')
      .describe("Name of the session cookie in the security scheme (sessions-redis's cookieName)"),
    rateLimit: z
      .union([z.string().min(1).max(64), z.literal(false)])
      .default('default')
      .describe('Rate-limit policy of these routes (when rate-limit is enabled); false exempts them'),
  })
  .strict();

/** Validated options of the `openapi` plugin. */
export type OpenapiConfig = z.output<typeof openapiConfigSchema>;

/** Options of the `openapi` plugin as written in the config file. */
export type OpenapiOptions = z.input<typeof openapiConfigSchema>;
