// A local plugin: the place for this app's own routes and services. It is enabled in
// gantry.config.json by its compiled path, "./dist/hello/plugin.js".
import { definePlugin } from '@gantry/core';
import { z } from 'zod';

/** Options of the `hello` plugin. */
export const helloConfigSchema = z
  .object({
    greeting: z.string().min(1).max(100).default('Hello').describe('First word of the answer of GET /api/v1/hello'),
  })
  .strict();

/** The `hello` plugin: GET /api/v1/hello, open to everyone. */
export const plugin = definePlugin({
  name: 'hello',
  version: '0.1.0',
  kernel: '{{kernelRange}}',
  description: 'An example route',
  dependsOn: ['http'],
  config: helloConfigSchema,
  register(ctx) {
    const query = z.object({ name: z.string().min(1).max(100).default('world') });
    ctx.http.get('/hello', { summary: 'Says hello', schema: { query }, meta: { public: true } }, (req) => ({ message: `${ctx.config.greeting}, ${req.query.name}!` }));
    ctx.health.check(() => ({ status: 'up' }), { critical: false });
  },
});
