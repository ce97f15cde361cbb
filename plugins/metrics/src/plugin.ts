import { definePlugin, KernelInfoToken } from '@gantry/core';
import { HttpServerToken } from '@gantry/http';
import { Gauge, Registry } from 'prom-client';
import { registerBootMetrics } from './boot-metrics.js';
import { metricsConfigSchema } from './config.js';
import { HttpDurationHistogram } from './http-duration.js';
import { createMetrics } from './metrics-service.js';
import { renderRegistry } from './render.js';
import { startRuntimeMetrics, unavailableError, type RuntimeMetrics } from './runtime-metrics.js';
import { MetricsToken } from './tokens.js';

/** The `metrics` plugin: one prom-client registry per kernel, HTTP and boot metrics, and a Prometheus scrape route. */
export const plugin = definePlugin({
  name: 'metrics',
  version: '0.1.0',
  kernel: '^0.1.0',
  description:
    'Prometheus metrics (prom-client): HTTP request durations, plugin boot times, process metrics, and a scrape endpoint',
  dependsOn: ['http'],
  provides: [MetricsToken],
  config: metricsConfigSchema,
  register(ctx) {
    const { config } = ctx;
    // One registry per kernel: two kernels in one process never share a metric.
    const registry = new Registry();
    ctx.provide(MetricsToken, createMetrics(registry));

    const duration = new HttpDurationHistogram('http_request_duration_seconds', config.buckets);
    duration.register(registry);
    ctx.http.onResponse((info) => duration.observeResponse(info));

    // HttpServerToken is the express adapter's; another transport may not bind it, so the gauge is optional.
    const server = ctx.container.tryGet(HttpServerToken);
    if (server) {
      new Gauge({
        name: 'http_requests_in_flight',
        help: 'HTTP requests being processed (the scrape itself included)',
        registers: [registry],
        collect() {
          this.set(server.inFlightCount());
        },
      });
    }
    registerBootMetrics(registry, ctx.container.get(KernelInfoToken));

    ctx.http.get(
      config.path,
      { root: true, summary: 'Prometheus metrics of this instance', tags: ['metrics'], meta: { public: true } },
      async (_req, reply) => {
        const body = await renderRegistry(registry);
        reply.type(registry.contentType).header('cache-control', 'no-store');
        return body;
      },
    );

    let runtime: RuntimeMetrics | undefined;
    ctx.lifecycle.hook({
      name: 'metrics',
      start() {
        if (!config.defaultMetrics) return;
        runtime = startRuntimeMetrics({
          registry,
          prefix: config.prefix,
          eventLoopResolutionMs: config.eventLoopResolutionMs,
        });
        if (runtime.unavailable.length > 0) {
          const err = unavailableError(runtime.unavailable);
          ctx.logger.warn({ code: err.code, collectors: runtime.unavailable }, err.message);
        }
      },
      stop() {
        // The event loop sampler and the GC observer outlive registry.clear(): stop them first.
        runtime?.stop();
        runtime = undefined;
        duration.reset();
        registry.clear();
      },
    });

    ctx.health.check(
      () => {
        const unavailable = runtime?.unavailable ?? [];
        return {
          status: unavailable.length > 0 ? 'degraded' : 'up',
          details: {
            metrics: registry.getMetricsAsArray().length,
            path: config.path,
            defaultMetrics: config.defaultMetrics,
            ...(unavailable.length ? { unavailableCollectors: unavailable } : {}),
          },
        };
      },
      { critical: false },
    );
  },
});
