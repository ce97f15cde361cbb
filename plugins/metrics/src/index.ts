/** @gantry/plugin-metrics: Prometheus metrics for Gantry with prom-client, one registry per kernel. */
export { plugin } from './plugin.js';
export { metricsConfigSchema, DEFAULT_HTTP_BUCKETS, type MetricsConfig } from './config.js';
export { MetricsErrors } from './errors.js';
export { MetricsToken } from './tokens.js';
export {
  pluginMetricPrefix,
  type CounterOptions,
  type GaugeOptions,
  type HistogramOptions,
  type Metrics,
  type MetricsScope,
} from './metrics-service.js';
