import { definePlugin, HttpTransportToken, line } from '@gantry/core';
import { z } from 'zod';
import { {{camelName}}ConfigSchema } from './config.js';
import { Greeter } from './greeter.js';
import { {{Name}}Token } from './tokens.js';

/** The `{{name}}` plugin: provides {@link {{Name}}Token}, and GET /api/v1/{{name}}/greet when http is enabled. */
export const plugin = definePlugin({
  name: '{{name}}',
  version: '0.1.0',
  kernel: '{{kernelRange}}',
  description: 'Greets callers',
  optionalDependsOn: ['http'],
  provides: [{{Name}}Token],
  config: {{camelName}}ConfigSchema,
  register(ctx) {
    // register() only wires: no I/O here (open connections in a lifecycle hook's start).
    const greeter = new Greeter(ctx.config);
    ctx.provide({{Name}}Token, greeter);
    if (ctx.config.route && ctx.container.tryGet(HttpTransportToken)) {
      // Input that reaches a response or storage is bounded and refuses control characters: line().
      const query = z.object({ name: line({ max: 100 }) });
      ctx.http.get(
        '/{{name}}/greet',
        { summary: 'A greeting for ?name=', tags: ['{{name}}'], schema: { query }, meta: { public: true } },
        (req) => ({ message: greeter.greet(req.query.name) }),
      );
    }
    ctx.health.check(() => ({ status: 'up', details: { greetings: greeter.count } }));
  },
});
