import { plugin as httpPlugin } from '@gantry/http';
import { plugin as metricsPlugin } from '@gantry/plugin-metrics';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { plugin } from '../src/index.js';
import { upstreamRoutes } from './harness.js';
import { Upstream } from './upstream.js';

describe('circuit-breaker: metrics (with the metrics plugin enabled)', () => {
  let upstream: Upstream;
  let kernel: TestKernel;

  before(async () => {
    upstream = await Upstream.start();
    kernel = await createTestKernel({
      plugins: [httpPlugin, metricsPlugin, plugin, upstreamRoutes(upstream.url)],
      config: {
        metrics: { defaultMetrics: false },
        'circuit-breaker': {
          policies: {
            payments: { order: ['breaker'], breaker: { kind: 'consecutive', threshold: 1 }, halfOpenAfterMs: 30_000 },
            search: { order: ['bulkhead'], bulkhead: { limit: 3, queue: 1 } },
          },
        },
      },
    });
  });
  after(async () => {
    await kernel.stop();
    await upstream.close();
  });

  it('exposes each breaker state, its transitions and bulkhead usage on /metrics', async () => {
    const closed = (await kernel.inject('/metrics')).body;
    expect(closed).to.contain('circuit_breaker_state{policy="payments"} 0');
    expect(closed, 'a policy without breaker has no state series').not.to.contain(
      'circuit_breaker_state{policy="search"}',
    );
    expect(closed).to.contain('circuit_breaker_bulkhead_active{policy="search"} 0');
    expect(closed).to.contain('circuit_breaker_bulkhead_queued{policy="search"} 0');

    upstream.always('fail');
    await kernel.inject('/api/v1/upstream/payments');
    const open = (await kernel.inject('/metrics')).body;
    expect(open).to.contain('circuit_breaker_state{policy="payments"} 2');
    expect(open).to.contain('circuit_breaker_transitions_total{policy="payments",state="open"} 1');
  });
});
