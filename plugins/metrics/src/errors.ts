import { defineErrors } from '@gantry/core';

/** Error registry of @gantry/plugin-metrics. Codes are stable; retired ones are never reused. */
export const MetricsErrors = defineErrors('metrics', {
  METRIC_CONFLICT: {
    status: 500,
    title: 'Metric name already registered with another definition',
    fix: 'pick another metric name, or register it with the same type, label names (same order) and buckets to get the existing metric back',
  },
  METRIC_INVALID: {
    status: 500,
    title: 'Metric definition is invalid',
    fix: 'metric names must match [a-zA-Z_:][a-zA-Z0-9_:]* and label names [a-zA-Z_][a-zA-Z0-9_]* ("le" is reserved on histograms), help must not be empty, exemplars need an OpenMetrics registry',
  },
  SCOPE_INVALID: {
    status: 500,
    title: 'Metrics scope prefix is invalid',
    fix: 'pass a plugin name to forPlugin() or a prefix matching [a-zA-Z_:][a-zA-Z0-9_:]* to scope()',
  },
  SCRAPE_FAILED: {
    status: 500,
    title: 'Metrics could not be rendered',
    fix: 'a collect() callback threw: find the metric named in the log and make its collect() not throw',
  },
  DEFAULT_METRICS_UNAVAILABLE: {
    status: 500,
    title: 'A default metric collector of prom-client could not be loaded',
    fix: 'reinstall prom-client 15; if a newer prom-client moved its collectors, pin prom-client to the version this plugin was released with',
  },
});
