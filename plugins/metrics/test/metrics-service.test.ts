import { expect } from 'chai';
import { Counter, Gauge, Histogram, register as promGlobalRegistry, Registry } from 'prom-client';
import { MetricsErrors, pluginMetricPrefix } from '../src/index.js';
import { createMetrics } from '../src/metrics-service.js';
import { parseExposition } from './exposition.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('Metrics service (MetricsToken)', () => {
  it('prefixes names with the plugin name in snake case', async () => {
    const registry = new Registry();
    const metrics = createMetrics(registry);
    const scope = metrics.forPlugin('circuit-breaker');
    expect(scope.prefix).to.equal('circuit_breaker');
    scope.gauge({ name: 'state', help: 'Breaker state', labelNames: ['breaker'] }).set({ breaker: 'payments' }, 1);
    scope.counter({ name: 'calls_total', help: 'Calls' }).inc(2);
    scope.histogram({ name: 'call_duration_seconds', help: 'Call durations', buckets: [0.1, 1] }).observe(0.5);
    const families = parseExposition(await registry.metrics());
    expect([...families.keys()].sort()).to.deep.equal([
      'circuit_breaker_call_duration_seconds',
      'circuit_breaker_calls_total',
      'circuit_breaker_state',
    ]);
    expect(families.get('circuit_breaker_state')!.samples[0]).to.deep.include({
      labels: { breaker: 'payments' },
      value: 1,
    });
    expect(families.get('circuit_breaker_calls_total')!.samples[0]!.value).to.equal(2);
  });

  it("registers into its own registry and never into prom-client's global one", () => {
    const before = promGlobalRegistry.getMetricsAsArray().length;
    const registry = new Registry();
    createMetrics(registry).scope('app').counter({ name: 'things_total', help: 'Things' });
    expect(registry.getSingleMetric('app_things_total')).to.be.instanceOf(Counter);
    expect(promGlobalRegistry.getMetricsAsArray().length).to.equal(before);
  });

  it('returns the existing metric when the same definition is asked for again', () => {
    const metrics = createMetrics(new Registry());
    const a = metrics.forPlugin('audit').counter({ name: 'events_total', help: 'Events', labelNames: ['kind'] });
    const b = metrics.scope('audit').counter({ name: 'events_total', help: 'Events again', labelNames: ['kind'] });
    expect(b).to.equal(a);
    const h1 = metrics.scope('audit').histogram({ name: 'lag_seconds', help: 'Lag', buckets: [1, 2] });
    expect(metrics.scope('audit').histogram({ name: 'lag_seconds', help: 'Lag', buckets: [1, 2] })).to.equal(h1);
    expect(
      metrics.scope('audit').histogram({ name: 'lag_seconds', help: 'Lag' }),
      'no buckets given: any buckets match',
    ).to.equal(h1);
  });

  it('throws GANTRY_METRICS_METRIC_CONFLICT for another type, other labels or other buckets under a taken name', () => {
    const metrics = createMetrics(new Registry());
    const scope = metrics.scope('audit');
    scope.counter({ name: 'events_total', help: 'Events', labelNames: ['kind'] });
    scope.histogram({ name: 'lag_seconds', help: 'Lag', buckets: [1, 2] });
    const conflicts = [
      () => scope.gauge({ name: 'events_total', help: 'Events', labelNames: ['kind'] }),
      () => scope.counter({ name: 'events_total', help: 'Events', labelNames: ['type'] }),
      () => scope.counter({ name: 'events_total', help: 'Events' }),
      () => scope.histogram({ name: 'lag_seconds', help: 'Lag', buckets: [1, 5] }),
    ];
    for (const fn of conflicts) {
      const err = thrown(fn);
      expect(MetricsErrors.METRIC_CONFLICT.is(err), String(err)).to.equal(true);
    }
    expect((thrown(conflicts[0]!) as Error).message).to.include(
      '"audit_events_total" is already registered as a counter with labels [kind]',
    );
  });

  it('throws GANTRY_METRICS_METRIC_INVALID for names prom-client refuses', () => {
    const scope = createMetrics(new Registry()).scope('app');
    const invalid = [
      () => scope.counter({ name: 'has-dash_total', help: 'x' }),
      () => scope.counter({ name: '', help: 'x' }),
      () => scope.gauge({ name: 'ok', help: 'x', labelNames: ['bad-label'] }),
      () => scope.histogram({ name: 'h_seconds', help: 'x', labelNames: ['le'] }),
      () => scope.gauge({ name: 'no_help', help: '' }),
    ];
    for (const fn of invalid) {
      const err = thrown(fn);
      expect(MetricsErrors.METRIC_INVALID.is(err), String(err)).to.equal(true);
    }
  });

  it('throws GANTRY_METRICS_SCOPE_INVALID for a bad prefix or plugin name', () => {
    const metrics = createMetrics(new Registry());
    for (const fn of [
      () => metrics.scope('1abc'),
      () => metrics.scope(''),
      () => metrics.scope('a-b'),
      () => metrics.forPlugin('Not A Plugin'),
    ]) {
      const err = thrown(fn);
      expect(MetricsErrors.SCOPE_INVALID.is(err), String(err)).to.equal(true);
    }
  });

  it('maps plugin names to snake_case prefixes', () => {
    expect(pluginMetricPrefix('auth-jwt')).to.equal('auth_jwt');
    expect(pluginMetricPrefix('kafka-events')).to.equal('kafka_events');
    expect(pluginMetricPrefix('metrics')).to.equal('metrics');
  });

  it('returns prom-client metric classes, so their full API is available', () => {
    const scope = createMetrics(new Registry()).scope('app');
    expect(scope.counter({ name: 'c_total', help: 'c' })).to.be.instanceOf(Counter);
    expect(scope.gauge({ name: 'g', help: 'g' })).to.be.instanceOf(Gauge);
    expect(scope.histogram({ name: 'h_seconds', help: 'h' })).to.be.instanceOf(Histogram);
  });
});
