import { z } from 'zod';

/** Options of the `{{name}}` plugin (config key `{{name}}`, env `GANTRY_{{NAME}}__<KEY>`). */
export const {{camelName}}ConfigSchema = z
  .object({
    greeting: z.string().min(1).max(50).default('Hello').describe('First word of every greeting'),
    route: z.boolean().default(true).describe('Serve GET /api/v1/{{name}}/greet when the http plugin is enabled'),
  })
  .strict();

/** Validated options of the `{{name}}` plugin. */
export type {{Name}}Config = z.output<typeof {{camelName}}ConfigSchema>;
