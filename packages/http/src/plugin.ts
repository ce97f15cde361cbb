import { definePlugin, HealthRegistryToken, HttpTransportToken } from '@gantry/core';
import { httpConfigSchema } from './config.js';
import { HttpServer } from './server.js';
import { HttpServerToken } from './tokens.js';

/** The `http` plugin: express 5 server, routing, validation, problem+json, security headers, /healthz and /readyz. */
export const plugin = definePlugin({
  name: 'http',
  version: '0.1.0',
  kernel: '^0.1.0',
  description: 'HTTP transport on express 5',
  provides: [HttpTransportToken, HttpServerToken],
  config: httpConfigSchema,
  register(ctx) {
    const server = new HttpServer(ctx.config, ctx.logger);
    ctx.provide(HttpTransportToken, server);
    ctx.provide(HttpServerToken, server);
    const health = ctx.container.get(HealthRegistryToken);
    const router = server.routerFor('http');

    router.get('/healthz', { root: true, summary: 'Liveness: the process is up', tags: ['health'], meta: { public: true } }, () => ({ status: 'ok' }));
    router.get('/readyz', { root: true, summary: 'Readiness of every plugin', tags: ['health'], meta: { public: true } }, async (_req, reply) => {
      const report = await health.readiness();
      reply.status(report.status === 'ready' ? 200 : 503);
      return report;
    });
    ctx.health.check(() => ({ status: 'up', details: { inFlight: server.inFlightCount() } }), { critical: false });

    // Building the app is cheap and deterministic: do it once every plugin has registered its routes.
    ctx.lifecycle.hook({ name: 'build-routes', start: () => void server.handler() });
    ctx.lifecycle.hook({ name: 'listen', phase: 'serve', start: () => server.listen(), stop: () => server.close(), timeoutMs: ctx.config.drainTimeoutMs + 5_000 });
  },
});
