// What Prometheus's own linter says of /metrics: `promtool check metrics` on the real scrape of a kernel.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { definePlugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { MetricsToken, plugin as metricsPlugin } from '../src/index.js';

/** test/services/prometheus.sh of the repository (this file runs from plugins/metrics/dist/test). */
const ensureScript = fileURLToPath(new URL('../../../../test/services/prometheus.sh', import.meta.url));

function promtoolOnPath(): boolean {
  return spawnSync('promtool', ['--version'], { stdio: 'ignore' }).error === undefined;
}

/** Runs `promtool check metrics` on an exposition: its exit status and everything it printed. */
function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A plugin using every kind of metric a plugin may add, and routes that give the duration histogram several series. */
const shop = definePlugin({
  name: 'shop',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http', 'metrics'],
  register(ctx) {
    const scope = ctx.container.get(MetricsToken).forPlugin(ctx.name);
    const orders = scope.counter({ name: 'orders_total', help: 'Orders placed', labelNames: ['side'] });
    const open = scope.gauge({ name: 'open_orders', help: 'Orders not yet filled' });
    const fill = scope.histogram({ name: 'fill_duration_seconds', help: 'Time to fill an order', buckets: [0.1, 1] });
    ctx.http.post('/orders', { status: 201 }, () => {
      orders.inc({ side: 'buy' });
      open.inc();
      fill.observe(0.2);
      return { placed: true };
    });
  },
});

describe('promtool check metrics', () => {
  before(function () {
    if (promtoolOnPath()) return;
    this.timeout(600_000); // an apt-get install on a fresh machine
    try {
      execFileSync('sh', [ensureScript, 'ensure'], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch (err) {
      throw new Error(
        `promtool is not on PATH and ${ensureScript} could not install it (${String(err)}). ` +
          "Fix: install Debian's prometheus package (apt-get install prometheus) or put promtool on PATH",
        { cause: err },
      );
    }
    if (!promtoolOnPath())
      throw new Error(`${ensureScript} ensure succeeded but promtool is still not on PATH: put it on PATH`);
  });

  for (const [what, options] of [
    ['the default options', {}],
    ['a prefix', { prefix: 'shop_' }],
  ] as const) {
    it(`finds nothing to warn about in /metrics with ${what}`, async () => {
      await using k = await createTestKernel({
        plugins: [httpPlugin, metricsPlugin, shop],
        config: { metrics: options },
      });
      expect((await k.inject({ method: 'POST', url: '/api/v1/orders', payload: {} })).statusCode).to.equal(201);
      expect((await k.inject('/api/v1/no-such-route')).statusCode).to.equal(404);
      const scrape = await k.inject('/metrics');
      expect(scrape.statusCode).to.equal(200);
      // The scrape has the families promtool lints: process and Node.js gauges, counters, histograms.
      for (const family of [
        'nodejs_active_handles',
        'shop_orders_total',
        'shop_fill_duration_seconds_bucket',
        'http_request_duration_seconds_bucket',
      ]) {
        expect(scrape.body).to.include(family);
      }
      const { status, output } = promtoolCheck(scrape.body);
      expect(output, 'promtool output').to.equal('');
      expect(status, 'promtool exit status').to.equal(0);
    });
  }
});
