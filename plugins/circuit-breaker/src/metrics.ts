import type { Container } from '@gantry/core';
import type { BreakerState, CircuitBreakers } from './circuit-breakers.js';
import { MetricsToken } from './peer-tokens.js';

/** Value of `circuit_breaker_state` per breaker state, by severity (alert on `== 2`). */
export const BREAKER_STATE_VALUES: Readonly<Record<Exclude<BreakerState, 'none'>, number>> = Object.freeze({
  closed: 0,
  'half-open': 1,
  open: 2,
  isolated: 3,
});

/** What {@link registerBreakerMetrics} needs. */
export interface BreakerMetricsOptions {
  readonly container: Container;
  readonly breakers: CircuitBreakers;
  /** The plugin name, the metric prefix (`circuit-breaker` → `circuit_breaker_`). */
  readonly pluginName: string;
}

/**
 * Registers the breaker metrics with the `metrics` plugin. Called only when that plugin is enabled;
 * its token is declared by name, so applications without it never load it (nor prom-client).
 */
export function registerBreakerMetrics(options: BreakerMetricsOptions): void {
  const { container, breakers } = options;
  const metrics = container.tryGet(MetricsToken);
  if (!metrics) return;
  const scope = metrics.forPlugin(options.pluginName);
  const withBreaker = breakers.names().filter((name) => breakers.state(name).state !== 'none');
  const withBulkhead = breakers.names().filter((name) => breakers.state(name).bulkhead !== undefined);

  if (withBreaker.length > 0) {
    scope.gauge({
      name: 'state',
      help: 'Circuit breaker state per policy: 0 closed, 1 half-open, 2 open, 3 isolated',
      labelNames: ['policy'],
      collect() {
        for (const policy of withBreaker) {
          const state = breakers.state(policy).state;
          if (state !== 'none') this.set({ policy }, BREAKER_STATE_VALUES[state]);
        }
      },
    });
    const transitions = scope.counter({
      name: 'transitions_total',
      help: 'Circuit breaker transitions per policy and state entered (open, half-open, closed)',
      labelNames: ['policy', 'state'],
    });
    breakers.onStateChange(({ policy, state }) => transitions.inc({ policy, state }));
  }

  if (withBulkhead.length > 0) {
    scope.gauge({
      name: 'bulkhead_active',
      help: 'Calls running inside the bulkhead of each policy',
      labelNames: ['policy'],
      collect() {
        for (const policy of withBulkhead) this.set({ policy }, breakers.state(policy).bulkhead?.active ?? 0);
      },
    });
    scope.gauge({
      name: 'bulkhead_queued',
      help: 'Calls waiting for a bulkhead slot of each policy',
      labelNames: ['policy'],
      collect() {
        for (const policy of withBulkhead) this.set({ policy }, breakers.state(policy).bulkhead?.queued ?? 0);
      },
    });
  }
}
