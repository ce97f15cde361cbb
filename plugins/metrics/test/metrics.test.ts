import { request } from 'node:http';
import { CoreErrors, currentContext, definePlugin, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { register as promGlobalRegistry, Registry } from 'prom-client';
import { z } from 'zod';
import { MetricsErrors, MetricsToken, plugin as metricsPlugin } from '../src/index.js';
import { createMetrics } from '../src/metrics-service.js';
import { renderRegistry } from '../src/render.js';
import { parseExposition, samplesOf, type Family } from './exposition.js';

/** A plugin with routes to measure: a template with a parameter, a 201 and a 404 from a matched route. */
const shop = definePlugin({
  name: 'shop',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.get('/items/:id', { schema: { params: z.object({ id: z.string() }) } }, (req, reply) => {
      if (req.params.id === 'missing') return void reply.status(404);
      return { id: req.params.id };
    });
    ctx.http.post('/items', { status: 201 }, () => ({ created: true }));
    ctx.http.get('/slow', {}, async () => {
      await new Promise((r) => setTimeout(r, 50));
      return { slow: true };
    });
  },
});

/** A plugin that adds its own metrics through MetricsToken, as any plugin may. */
const orderBook = definePlugin({
  name: 'order-book',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http', 'metrics'],
  register(ctx) {
    const scope = ctx.container.get(MetricsToken).forPlugin(ctx.name);
    const placed = scope.counter({ name: 'orders_total', help: 'Orders placed', labelNames: ['side'] });
    const depth = scope.gauge({ name: 'depth', help: 'Open orders' });
    ctx.http.post('/orders/:side', {}, (req) => {
      const side = (req.params as { side: string }).side;
      placed.inc({ side });
      depth.inc();
      return { side };
    });
  },
});

const kernels: TestKernel[] = [];
async function boot(plugins: Plugin[] = [], config: Record<string, Record<string, unknown>> = {}): Promise<TestKernel> {
  const k = await createTestKernel({ plugins: [httpPlugin, metricsPlugin, ...plugins], config });
  kernels.push(k);
  return k;
}

async function scrape(k: TestKernel, path = '/metrics'): Promise<Map<string, Family>> {
  const res = await k.inject(path);
  expect(res.statusCode, res.body).to.equal(200);
  return parseExposition(res.body);
}

function count(families: Map<string, Family>, labels: Record<string, string>): number {
  const samples = samplesOf(families, 'http_request_duration_seconds_count', labels);
  return samples.reduce((n, s) => n + s.value, 0);
}

describe('metrics plugin', () => {
  afterEach(async () => {
    await Promise.all(kernels.splice(0).map((k) => k.stop()));
  });

  describe('GET /metrics', () => {
    it('answers valid Prometheus text with the registry content type and the default process metrics', async () => {
      const k = await boot();
      const res = await k.inject('/metrics');
      expect(res.statusCode).to.equal(200);
      expect(res.headers['content-type']).to.equal(new Registry().contentType);
      expect(res.headers['cache-control']).to.equal('no-store');
      const families = parseExposition(res.body);
      const types = Object.fromEntries([...families.values()].map((f) => [f.name, f.type]));
      expect(types).to.include({
        process_cpu_seconds_total: 'counter',
        process_resident_memory_bytes: 'gauge',
        process_start_time_seconds: 'gauge',
        nodejs_heap_size_used_bytes: 'gauge',
        nodejs_eventloop_lag_seconds: 'gauge',
        nodejs_eventloop_lag_p99_seconds: 'gauge',
        nodejs_gc_duration_seconds: 'histogram',
        nodejs_version_info: 'gauge',
        http_request_duration_seconds: 'histogram',
        http_requests_in_flight: 'gauge',
        gantry_plugin_boot_duration_seconds: 'gauge',
      });
      expect(samplesOf(families, 'nodejs_version_info')[0]?.labels.version).to.equal(process.version);
      expect(samplesOf(families, 'http_requests_in_flight')[0]?.value, 'the scrape itself is in flight').to.equal(1);
    });

    it('is mounted at the root, not under the API base path', async () => {
      const k = await boot();
      expect((await k.inject('/api/v1/metrics')).statusCode).to.equal(404);
      expect((await k.inject('/metrics')).statusCode).to.equal(200);
    });
  });

  describe('http_request_duration_seconds', () => {
    it('labels requests by route template, never by the raw path', async () => {
      const k = await boot([shop]);
      for (const id of ['17', '42', 'abc-123'])
        expect((await k.inject(`/api/v1/items/${id}`)).statusCode).to.equal(200);
      const res = await k.inject('/metrics');
      const families = parseExposition(res.body);
      expect(count(families, { method: 'GET', route: '/api/v1/items/:id', status_code: '200' })).to.equal(3);
      for (const raw of ['/api/v1/items/17', '/api/v1/items/42', 'abc-123']) expect(res.body).not.to.include(raw);
      const routes = new Set(samplesOf(families, 'http_request_duration_seconds_count').map((s) => s.labels.route));
      expect([...routes].sort()).to.deep.equal(['/api/v1/items/:id']);
    });

    it('counts requests that match no route as <unmatched>', async () => {
      const k = await boot([shop]);
      expect((await k.inject('/api/v1/nothing/here/9')).statusCode).to.equal(404);
      expect((await k.inject('/random-path-1234')).statusCode).to.equal(404);
      const res = await k.inject('/metrics');
      const families = parseExposition(res.body);
      expect(count(families, { method: 'GET', route: '<unmatched>', status_code: '404' })).to.equal(2);
      expect(res.body).not.to.include('nothing/here');
      expect(res.body).not.to.include('random-path-1234');
    });

    it('labels the status code each response had', async () => {
      const k = await boot([shop]);
      expect((await k.inject({ method: 'POST', url: '/api/v1/items', payload: {} })).statusCode).to.equal(201);
      expect((await k.inject({ method: 'POST', url: '/api/v1/items', payload: {} })).statusCode).to.equal(201);
      expect((await k.inject('/api/v1/items/missing')).statusCode).to.equal(404);
      expect((await k.inject('/api/v1/items/7')).statusCode).to.equal(200);
      const families = await scrape(k);
      expect(count(families, { method: 'POST', route: '/api/v1/items', status_code: '201' })).to.equal(2);
      expect(count(families, { method: 'GET', route: '/api/v1/items/:id', status_code: '404' })).to.equal(1);
      expect(count(families, { method: 'GET', route: '/api/v1/items/:id', status_code: '200' })).to.equal(1);
    });

    it('uses the configured buckets and puts each duration in the right one', async () => {
      const k = await boot([shop], { metrics: { buckets: [0.01, 60] } });
      // The route sleeps 50 ms: far above the 0.01 s bound (timers may fire ~1 ms early), far below 60 s.
      await k.inject('/api/v1/slow');
      const families = await scrape(k);
      const buckets = samplesOf(families, 'http_request_duration_seconds_bucket', { route: '/api/v1/slow' });
      expect(buckets.map((b) => [b.labels.le, b.value])).to.deep.equal([
        ['0.01', 0],
        ['60', 1],
        ['+Inf', 1],
      ]);
      const sum = samplesOf(families, 'http_request_duration_seconds_sum', { route: '/api/v1/slow' })[0]!.value;
      expect(sum).to.be.greaterThan(0.01).and.lessThan(60);
    });

    it('counts a request whose client disconnected before the answer as 499, never as 200', async () => {
      // The handler waits for its request to be cancelled: it never answers on its own.
      let entered!: () => void;
      let cancelled!: () => void;
      const handlerEntered = new Promise<void>((r) => (entered = r));
      const requestCancelled = new Promise<void>((r) => (cancelled = r));
      const waiter = definePlugin({
        name: 'waiter',
        version: '0.1.0',
        kernel: '^0.1.0',
        dependsOn: ['http'],
        register(ctx) {
          ctx.http.get('/wait', {}, async () => {
            const signal = currentContext()!.signal;
            entered();
            await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
            cancelled();
            return { answered: 'too late' };
          });
        },
      });
      const k = await boot([waiter], { http: { listen: true, port: 0, host: '127.0.0.1' } });
      const req = request(`${k.url()}/api/v1/wait`);
      req.on('error', () => {}); // the socket error of destroying our own request
      req.end();
      await handlerEntered;
      req.destroy();
      // The server cancels the request's context, then reports the response to the metrics listener, in one tick.
      await requestCancelled;
      const families = await scrape(k);
      expect(count(families, { method: 'GET', route: '/api/v1/wait', status_code: '499' })).to.equal(1);
      expect(count(families, { route: '/api/v1/wait', status_code: '200' })).to.equal(0);
    });
  });

  it("reports each plugin's register and start time, plugins started after metrics included", async () => {
    const k = await boot([shop, orderBook]);
    const families = await scrape(k);
    const samples = samplesOf(families, 'gantry_plugin_boot_duration_seconds');
    const seen = new Set(samples.map((s) => `${s.labels.plugin}/${s.labels.phase}`));
    for (const expected of [
      'http/register',
      'http/start',
      'metrics/register',
      'metrics/start',
      'shop/register',
      'order-book/register',
    ]) {
      expect(seen, expected).to.include(expected);
    }
    for (const s of samples) expect(s.value).to.be.at.least(0);
  });

  it('shows metrics another plugin adds through MetricsToken under its own prefix', async () => {
    const k = await boot([orderBook]);
    await k.inject({ method: 'POST', url: '/api/v1/orders/buy' });
    await k.inject({ method: 'POST', url: '/api/v1/orders/buy' });
    await k.inject({ method: 'POST', url: '/api/v1/orders/sell' });
    const families = await scrape(k);
    expect(families.get('order_book_orders_total')?.type).to.equal('counter');
    expect(samplesOf(families, 'order_book_orders_total', { side: 'buy' })[0]?.value).to.equal(2);
    expect(samplesOf(families, 'order_book_orders_total', { side: 'sell' })[0]?.value).to.equal(1);
    expect(samplesOf(families, 'order_book_depth')[0]?.value).to.equal(3);
  });

  it("keeps two kernels in one process apart, and never uses prom-client's global registry", async () => {
    const globalBefore = promGlobalRegistry.getMetricsAsArray().length;
    const a = await boot([shop, orderBook]);
    const b = await boot([shop, orderBook]);
    for (let i = 0; i < 3; i++) await a.inject('/api/v1/items/1');
    await a.inject({ method: 'POST', url: '/api/v1/orders/buy' });
    await b.inject('/api/v1/items/1');
    const fa = await scrape(a);
    const fb = await scrape(b);
    expect(count(fa, { route: '/api/v1/items/:id' })).to.equal(3);
    expect(count(fb, { route: '/api/v1/items/:id' })).to.equal(1);
    expect(samplesOf(fa, 'order_book_orders_total', { side: 'buy' })[0]?.value).to.equal(1);
    expect(samplesOf(fb, 'order_book_orders_total')).to.deep.equal([]);
    expect(a.get(MetricsToken).registry).not.to.equal(b.get(MetricsToken).registry);
    expect(promGlobalRegistry.getMetricsAsArray().length).to.equal(globalBefore);
  });

  describe('options', () => {
    it('serves the scrape at `path` and nowhere else', async () => {
      const k = await boot([], { metrics: { path: '/internal/prometheus' } });
      expect((await k.inject('/metrics')).statusCode).to.equal(404);
      const families = await scrape(k, '/internal/prometheus');
      expect(families.has('http_request_duration_seconds')).to.equal(true);
    });

    it('prefixes the default metrics with `prefix`, and only those', async () => {
      const k = await boot([], { metrics: { prefix: 'shop_' } });
      const families = await scrape(k);
      expect(families.has('shop_process_cpu_seconds_total')).to.equal(true);
      expect(families.has('shop_nodejs_eventloop_lag_seconds')).to.equal(true);
      expect(families.has('shop_nodejs_gc_duration_seconds')).to.equal(true);
      expect(families.has('process_cpu_seconds_total')).to.equal(false);
      expect(families.has('http_request_duration_seconds')).to.equal(true);
      expect(families.has('gantry_plugin_boot_duration_seconds')).to.equal(true);
    });

    it('leaves the process metrics out with defaultMetrics: false', async () => {
      const k = await boot([], { metrics: { defaultMetrics: false } });
      const names = [...(await scrape(k)).keys()];
      expect(names.filter((n) => n.startsWith('process_') || n.startsWith('nodejs_'))).to.deep.equal([]);
      expect(names).to.include('http_request_duration_seconds');
    });

    it('rejects buckets that are not strictly increasing before anything starts', async () => {
      let error: unknown;
      try {
        await boot([], { metrics: { buckets: [0.5, 0.1] } });
      } catch (err) {
        error = err;
      }
      expect(CoreErrors.BOOT_INVALID.is(error), String(error)).to.equal(true);
      expect((error as Error).message)
        .to.include('plugin "metrics"')
        .and.include('buckets');
    });
  });

  it('registers a non-critical readiness check that reports the metric count', async () => {
    const k = await boot();
    const res = await k.inject('/readyz');
    expect(res.statusCode).to.equal(200);
    const check = (
      res.json() as {
        checks: Record<string, { status: string; critical: boolean; details: { metrics: number; path: string } }>;
      }
    ).checks.metrics;
    expect(check?.status).to.equal('up');
    expect(check?.critical).to.equal(false);
    expect(check?.details.path).to.equal('/metrics');
    expect(check?.details.metrics)
      .to.equal(k.get(MetricsToken).registry.getMetricsAsArray().length)
      .and.be.greaterThan(10);
  });

  it('answers a coded 500 problem when a collect() callback throws', async () => {
    const faulty = definePlugin({
      name: 'faulty',
      version: '0.1.0',
      kernel: '^0.1.0',
      dependsOn: ['metrics'],
      register(ctx) {
        ctx.container
          .get(MetricsToken)
          .forPlugin(ctx.name)
          .gauge({
            name: 'broken',
            help: 'Always fails',
            collect() {
              throw new TypeError('sensor unplugged');
            },
          });
      },
    });
    const k = await boot([faulty]);
    const res = await k.inject('/metrics');
    expect(res.statusCode).to.equal(500);
    expect(res.headers['content-type']).to.include('application/problem+json');
    expect((res.json() as { code: string }).code).to.equal(MetricsErrors.SCRAPE_FAILED.code);
  });

  it('names the metric whose collect() threw', async () => {
    const registry = new Registry();
    createMetrics(registry).scope('app').gauge({ name: 'fine', help: 'Works' }).set(1);
    createMetrics(registry)
      .scope('app')
      .gauge({
        name: 'broken',
        help: 'Always fails',
        collect() {
          throw new TypeError('sensor unplugged');
        },
      });
    let error: unknown;
    await renderRegistry(registry).catch((err: unknown) => (error = err));
    expect(MetricsErrors.SCRAPE_FAILED.is(error)).to.equal(true);
    expect((error as Error).message)
      .to.include('app_broken (sensor unplugged)')
      .and.not.include('app_fine');
    expect((error as { details: { metrics: string[] } }).details.metrics).to.deep.equal(['app_broken']);
  });

  it("renders exactly what prom-client's registry.metrics() renders when nothing fails", async () => {
    const k = await boot([shop]);
    await k.inject('/api/v1/items/1');
    const registry = k.get(MetricsToken).registry;
    // Only metrics whose value cannot move between two renders (process and lag gauges do).
    const stable = new Registry();
    for (const name of ['http_request_duration_seconds', 'gantry_plugin_boot_duration_seconds', 'nodejs_version_info'])
      stable.registerMetric(registry.getSingleMetric(name)!);
    expect(await renderRegistry(stable)).to.equal(await stable.metrics());
  });

  it('empties the registry when the kernel stops', async () => {
    const k = await boot([orderBook]);
    const registry = k.get(MetricsToken).registry;
    expect(registry.getMetricsAsArray().length).to.be.greaterThan(10);
    await k.stop();
    expect(registry.getMetricsAsArray()).to.deep.equal([]);
  });
});
