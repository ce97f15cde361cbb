import {
  Counter,
  Gauge,
  Histogram,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
  type Registry,
} from 'prom-client';
import { MetricsErrors } from './errors.js';

/** Options of {@link MetricsScope.counter}: prom-client's, with `name` given without the scope prefix. */
export type CounterOptions<L extends string> = Omit<CounterConfiguration<L>, 'registers'>;
/** Options of {@link MetricsScope.gauge}: prom-client's, with `name` given without the scope prefix. */
export type GaugeOptions<L extends string> = Omit<GaugeConfiguration<L>, 'registers'>;
/** Options of {@link MetricsScope.histogram}: prom-client's, with `name` given without the scope prefix. */
export type HistogramOptions<L extends string> = Omit<HistogramConfiguration<L>, 'registers'>;

/**
 * Creates metrics named `<prefix>_<name>` in the kernel's registry. Asking again for a name that
 * exists with the same type, label names (same order) and buckets returns the existing metric;
 * any other definition under that name throws GANTRY_METRICS_METRIC_CONFLICT.
 */
export interface MetricsScope {
  /** The prefix put before every name, without the joining `_` (e.g. `circuit_breaker`). */
  readonly prefix: string;
  /** A counter named `<prefix>_<name>` (end counter names with `_total`). */
  counter<L extends string = string>(options: CounterOptions<L>): Counter<L>;
  /** A gauge named `<prefix>_<name>`. */
  gauge<L extends string = string>(options: GaugeOptions<L>): Gauge<L>;
  /** A histogram named `<prefix>_<name>` (end names with the unit, e.g. `_seconds`). */
  histogram<L extends string = string>(options: HistogramOptions<L>): Histogram<L>;
}

/** The metrics service of one kernel (token `MetricsToken`): its registry and prefixed scopes. */
export interface Metrics {
  /** The kernel's own prom-client registry (never prom-client's global `register`). */
  readonly registry: Registry;
  /** A scope prefixed by the plugin name in snake case: `circuit-breaker` → `circuit_breaker_`. */
  forPlugin(pluginName: string): MetricsScope;
  /** A scope with an explicit prefix (`[a-zA-Z_:][a-zA-Z0-9_:]*`, joined to names with `_`). */
  scope(prefix: string): MetricsScope;
}

const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const PLUGIN_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

/** The snake_case metric prefix of a plugin name (`circuit-breaker` → `circuit_breaker`). */
export function pluginMetricPrefix(pluginName: string): string {
  if (typeof pluginName !== 'string' || !PLUGIN_NAME.test(pluginName)) {
    throw MetricsErrors.SCOPE_INVALID(
      `metrics.forPlugin(${JSON.stringify(pluginName)}): not a plugin name (kebab-case, e.g. "circuit-breaker")`,
      { details: { pluginName } },
    );
  }
  return pluginName.replace(/-/g, '_');
}

/** Builds the {@link Metrics} service around one registry. */
export function createMetrics(registry: Registry): Metrics {
  const scopes = new Map<string, MetricsScope>();
  const scope = (prefix: string): MetricsScope => {
    if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
      throw MetricsErrors.SCOPE_INVALID(
        `metrics.scope(${JSON.stringify(prefix)}): the prefix must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
        { details: { prefix } },
      );
    }
    let s = scopes.get(prefix);
    if (!s) scopes.set(prefix, (s = createScope(registry, prefix)));
    return s;
  };
  return Object.freeze({
    registry,
    scope,
    forPlugin: (pluginName: string) => scope(pluginMetricPrefix(pluginName)),
  });
}

type Kind = 'counter' | 'gauge' | 'histogram';
type AnyMetric = Counter<string> | Gauge<string> | Histogram<string>;
const CLASSES = { counter: Counter, gauge: Gauge, histogram: Histogram } as const;

function createScope(registry: Registry, prefix: string): MetricsScope {
  function make<M extends AnyMetric>(
    kind: Kind,
    options: { name: string; labelNames?: readonly string[]; buckets?: number[] },
  ): M {
    if (typeof options?.name !== 'string' || options.name === '') {
      throw MetricsErrors.METRIC_INVALID(
        `metrics scope "${prefix}": ${kind}() needs a name (given without the "${prefix}_" prefix)`,
      );
    }
    const name = `${prefix}_${options.name}`;
    const labelNames = [...(options.labelNames ?? [])];
    const existing = registry.getSingleMetric(name) as
      | (AnyMetric & { labelNames?: string[]; upperBounds?: number[]; type?: string })
      | undefined;
    if (existing) {
      const sameClass = existing instanceof CLASSES[kind];
      const sameLabels = sameList(existing.labelNames ?? [], labelNames);
      const sameBuckets =
        kind !== 'histogram' || options.buckets === undefined || sameList(existing.upperBounds ?? [], options.buckets);
      if (sameClass && sameLabels && sameBuckets) return existing as M;
      throw MetricsErrors.METRIC_CONFLICT(
        `metric "${name}" is already registered as a ${existing.type ?? 'metric'} with labels [${(existing.labelNames ?? []).join(', ')}]` +
          `${existing.upperBounds ? ` and buckets [${existing.upperBounds.join(', ')}]` : ''}; asked for a ${kind} with labels [${labelNames.join(', ')}]` +
          `${options.buckets ? ` and buckets [${options.buckets.join(', ')}]` : ''}`,
        { details: { name, existingType: existing.type, requestedType: kind } },
      );
    }
    try {
      // `registers` is always this kernel's registry: prom-client falls back to its global one otherwise.
      return new CLASSES[kind]({
        ...(options as object),
        name,
        labelNames,
        registers: [registry],
      } as never) as unknown as M;
    } catch (err) {
      throw MetricsErrors.METRIC_INVALID(
        `metrics scope "${prefix}": ${kind} "${name}" is invalid: ${(err as Error).message}`,
        { cause: err, details: { name } },
      );
    }
  }
  return Object.freeze({
    prefix,
    counter: <L extends string>(options: CounterOptions<L>) => make<Counter<L>>('counter', options),
    gauge: <L extends string>(options: GaugeOptions<L>) => make<Gauge<L>>('gauge', options),
    histogram: <L extends string>(options: HistogramOptions<L>) =>
      make<Histogram<L>>('histogram', options as { name: string; buckets?: number[] }),
  });
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
