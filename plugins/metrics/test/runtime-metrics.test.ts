import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { expect } from 'chai';
import { type Histogram, Registry } from 'prom-client';
import { RENAMED_GAUGES, startRuntimeMetrics } from '../src/runtime-metrics.js';
import { parseExposition } from './exposition.js';

async function gcCount(registry: Registry): Promise<number> {
  const metric = registry.getSingleMetric('nodejs_gc_duration_seconds') as Histogram;
  const data = await metric.get();
  return data.values
    .filter((v) => v.metricName === 'nodejs_gc_duration_seconds_count')
    .reduce((n, v) => n + v.value, 0);
}

describe('default process metrics', () => {
  it("has every metric prom-client's collectDefaultMetrics() registers, with the same types (three gauges renamed)", async () => {
    // prom-client's own collectors run in a child process: they leave an event loop sampler and a
    // GC observer running that nothing can stop, which is what this plugin avoids.
    const promClient = createRequire(import.meta.url).resolve('prom-client');
    const script = `const p = require(${JSON.stringify(promClient)}); const r = new p.Registry(); p.collectDefaultMetrics({ register: r });
      r.getMetricsAsJSON().then((m) => { process.stdout.write(JSON.stringify(m.map((x) => [x.name, x.type]))); process.exit(0); });`;
    const theirs = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as [
      string,
      string,
    ][];
    const expected = theirs.map(([name, type]) => [RENAMED_GAUGES[name] ?? name, type]).sort();
    const registry = new Registry();
    const runtime = startRuntimeMetrics({ registry, prefix: '', eventLoopResolutionMs: 10 });
    try {
      const ours = [...parseExposition(await registry.metrics()).values()].map((f) => [f.name, f.type]).sort();
      expect(expected.length).to.be.greaterThan(20);
      expect(ours).to.deep.equal(expected);
      expect(runtime.unavailable).to.deep.equal([]);
    } finally {
      runtime.stop();
    }
  });

  it("serves prom-client's *_total gauges as *_all with their value, and never under a _total name", async () => {
    const registry = new Registry();
    const runtime = startRuntimeMetrics({ registry, prefix: 'x_', eventLoopResolutionMs: 10 });
    // One active handle and resource at least, whatever the test runner's stdout is (a pipe is a handle, a file is not).
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const families = parseExposition(await registry.metrics());
      for (const [from, to] of Object.entries(RENAMED_GAUGES)) {
        expect(families.has(`x_${from}`), from).to.equal(false);
        expect(families.get(`x_${to}`)?.type, to).to.equal('gauge');
        expect(families.get(`x_${to}`)!.help, to).to.match(/^Total number of active /);
      }
      expect(families.get('x_nodejs_active_resources_all')!.samples[0]!.value).to.be.at.least(1);
      expect(families.get('x_nodejs_active_handles_all')!.samples[0]!.value).to.be.at.least(1);
      for (const f of families.values())
        if (f.type !== 'counter') expect(f.name, 'a non-counter named _total').not.to.match(/_total$/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      runtime.stop();
    }
  });

  it("stops observing garbage collections after stop(), unlike prom-client's collector", async () => {
    const stoppedRegistry = new Registry();
    const runningRegistry = new Registry();
    const stopped = startRuntimeMetrics({ registry: stoppedRegistry, prefix: '', eventLoopResolutionMs: 10 });
    const running = startRuntimeMetrics({ registry: runningRegistry, prefix: '', eventLoopResolutionMs: 10 });
    try {
      stopped.stop();
      const before = await gcCount(stoppedRegistry);
      // Allocate until the running set has seen a collection (bounded: minor GCs come within a few MB).
      let garbage: unknown[] = [];
      for (let i = 0; i < 500 && (await gcCount(runningRegistry)) === 0; i++) {
        garbage = Array.from({ length: 20_000 }, (_, j) => ({ j, s: `x${j}` }));
        await new Promise((r) => setImmediate(r));
      }
      expect(garbage.length).to.equal(20_000);
      expect(await gcCount(runningRegistry), 'the running collector saw a GC').to.be.greaterThan(0);
      expect(await gcCount(stoppedRegistry), 'the stopped collector saw none').to.equal(before);
    } finally {
      running.stop();
    }
  });

  it('reads the event loop delay between scrapes', async () => {
    const registry = new Registry();
    const runtime = startRuntimeMetrics({ registry, prefix: 'x_', eventLoopResolutionMs: 1 });
    try {
      await new Promise((r) => setTimeout(r, 30));
      const families = parseExposition(await registry.metrics());
      expect(families.get('x_nodejs_eventloop_lag_seconds')!.samples[0]!.value).to.be.greaterThan(0);
      expect(
        families.get('x_nodejs_eventloop_lag_max_seconds')!.samples[0]!.value,
        'the sampler recorded delays',
      ).to.be.greaterThan(0);
    } finally {
      runtime.stop();
      runtime.stop(); // idempotent
    }
  });
});
