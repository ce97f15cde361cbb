import type { Container, Logger } from '@gantry/core';
import type { Metrics } from '@gantry/plugin-metrics';

/** Where the limiters report what they did; the no-op one when the `metrics` plugin is off. */
export interface RateLimitMetrics {
  /** A request refused with 429 by `policy`. */
  rejected(policy: string): void;
  /** The store could not count a request of `policy`: it was let through (`allowed`) or answered 503 (`refused`). */
  storeUnavailable(policy: string, outcome: 'allowed' | 'refused'): void;
  /** A request of `policy` held back by the progressive delay of its per-account counter. */
  delayed(policy: string): void;
}

/** Reports nothing (the `metrics` plugin is not enabled). */
export const NO_METRICS: RateLimitMetrics = Object.freeze({
  rejected: () => undefined,
  storeUnavailable: () => undefined,
  delayed: () => undefined,
});

/** What {@link registerRateLimitMetrics} needs. */
export interface RateLimitMetricsOptions {
  readonly container: Container;
  readonly logger: Logger;
  /** The plugin name, the metric prefix (`rate-limit` → `rate_limit_`). */
  readonly pluginName: string;
  /** Policy names, whose series start at 0 so that `rate()` sees the first rejection. */
  readonly policies: readonly string[];
  /** Names of the policies with a progressive delay, whose `delayed_total` series start at 0. */
  readonly delayPolicies?: readonly string[];
}

/**
 * Registers the rate-limit metrics with the `metrics` plugin. Called only when that plugin is
 * enabled: it is loaded with a dynamic import so that applications without it never load prom-client.
 */
export async function registerRateLimitMetrics(options: RateLimitMetricsOptions): Promise<RateLimitMetrics> {
  let metrics: Metrics | undefined;
  try {
    const { MetricsToken } = await import('@gantry/plugin-metrics');
    metrics = options.container.tryGet(MetricsToken);
  } catch (err) {
    options.logger.warn(
      { err },
      'the metrics plugin is enabled but @gantry/plugin-metrics cannot be loaded from rate-limit; rate-limit metrics are off',
    );
    return NO_METRICS;
  }
  if (!metrics) return NO_METRICS;
  const scope = metrics.forPlugin(options.pluginName);
  const rejected = scope.counter({
    name: 'rejected_total',
    help: 'Requests refused with 429 per rate-limit policy',
    labelNames: ['policy'],
  });
  const unavailable = scope.counter({
    name: 'store_unavailable_total',
    help: 'Requests the rate-limit store could not count, per policy and outcome (allowed: failOpen let it through; refused: answered 503)',
    labelNames: ['policy', 'outcome'],
  });
  const delayed = scope.counter({
    name: 'delayed_total',
    help: 'Requests held back by the progressive delay of a per-account counter, per policy (an account under a guessing attack)',
    labelNames: ['policy'],
  });
  for (const policy of options.policies) rejected.inc({ policy }, 0);
  for (const policy of options.delayPolicies ?? []) delayed.inc({ policy }, 0);
  return {
    rejected: (policy) => rejected.inc({ policy }),
    storeUnavailable: (policy, outcome) => unavailable.inc({ policy, outcome }),
    delayed: (policy) => delayed.inc({ policy }),
  };
}
