import type { IncomingMessage } from 'node:http';
import { definePlugin, HealthRegistryToken, HttpTransportToken, KernelInfoToken, packageVersion } from '@gantry/core';
import { httpConfigSchema } from './config.js';
import { HttpServer } from './server.js';
import { HttpServerToken } from './tokens.js';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * A caller on this machine: the client address (after trust proxy) is loopback, and the request was
 * not forwarded (a local reverse proxy relays remote clients from a loopback address).
 */
function isLoopbackCaller(raw: IncomingMessage, ip: string | undefined): boolean {
  const h = raw.headers;
  if (h['x-forwarded-for'] !== undefined || h.forwarded !== undefined || h['x-real-ip'] !== undefined) return false;
  return ip !== undefined && LOOPBACK.test(ip);
}

/** The `http` plugin: express 5 (or fastify 5) server, routing, validation, problem+json, security headers, /healthz and /readyz. */
export const plugin = definePlugin({
  name: 'http',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description: 'HTTP transport on express 5 or fastify 5',
  provides: [HttpTransportToken, HttpServerToken],
  config: httpConfigSchema,
  register(ctx) {
    // While a config change restarts a plugin's hooks, its routes answer 503 (the others keep serving).
    const info = ctx.container.get(KernelInfoToken);
    const server = new HttpServer(ctx.config, ctx.logger, info.isRestarting?.bind(info));
    ctx.provide(HttpTransportToken, server);
    ctx.provide(HttpServerToken, server);
    const health = ctx.container.get(HealthRegistryToken);
    const router = server.routerFor('http');

    router.get(
      '/healthz',
      { root: true, summary: 'Liveness: the process is up', tags: ['health'], meta: { public: true } },
      () => ({ status: 'ok' }),
    );
    const details = ctx.config.readinessDetails;
    router.get(
      '/readyz',
      {
        root: true,
        summary: 'Readiness of every plugin (per-plugin checks for loopback callers only)',
        tags: ['health'],
        meta: { public: true },
      },
      async (req, reply) => {
        const report = await health.readiness();
        reply.status(report.status === 'ready' ? 200 : 503);
        // The checks name store kinds, issuers and driver errors: useful to an operator, not to the world.
        if (details === 'always' || (details === 'loopback' && isLoopbackCaller(req.raw, req.ip))) return report;
        return { status: report.status, shuttingDown: report.shuttingDown };
      },
    );
    ctx.health.check(() => ({ status: 'up', details: { inFlight: server.inFlightCount() } }), { critical: false });

    // Building the app is cheap and deterministic: do it once every plugin has registered its routes.
    ctx.lifecycle.hook({ name: 'build-routes', start: () => server.prepare() });
    ctx.lifecycle.hook({
      name: 'listen',
      phase: 'serve',
      start: () => server.listen(),
      stop: () => server.close(),
      timeoutMs: ctx.config.drainTimeoutMs + 5_000,
    });
  },
});
