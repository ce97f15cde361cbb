import { createRequire } from 'node:module';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import type { GantryError } from '@gantry/core';
import { collectDefaultMetrics, Gauge, Histogram, type Registry } from 'prom-client';
import { MetricsErrors } from './errors.js';

/** Options of {@link startRuntimeMetrics}. */
export interface RuntimeMetricsOptions {
  readonly registry: Registry;
  /** Put before every metric name as is (prom-client's `prefix`). */
  readonly prefix: string;
  /** Sampling interval of the event loop delay histogram. */
  readonly eventLoopResolutionMs: number;
}

/** The running default metrics of one registry. */
export interface RuntimeMetrics {
  /** prom-client collectors that could not be loaded (reported by the health check). */
  readonly unavailable: readonly string[];
  /** Disables the event loop delay sampler and disconnects the GC observer. Idempotent. */
  stop(): void;
}

type Collector = (registry: Registry, config: { prefix: string }) => void;

/**
 * prom-client's two default collectors that start something they never stop:
 * - `eventLoopLag` enables a `monitorEventLoopDelay` histogram (an unref'd libuv timer, so
 *   `getActiveResourcesInfo()` does not list it) that wakes the loop every 10 ms forever;
 * - `gc` connects a `PerformanceObserver` that keeps observing (and keeps its histogram alive)
 *   after `registry.clear()`.
 * Neither is reachable from outside, so this plugin builds those metrics itself, with the same
 * names, labels and buckets, and stops them in its stop hook.
 */
const OWNED = new Set(['eventLoopLag', 'gc']);

/**
 * prom-client's gauges named like counters: `promtool check metrics` warns "non-counter metrics
 * should not have "_total" suffix" on each, and a `_total` name tells `rate()` users it only grows.
 * Each is the sum over `type` of its labelled sibling (`sum without (type) (nodejs_active_handles)`);
 * it is served under the name on the right, with the same value and help.
 */
export const RENAMED_GAUGES: Readonly<Record<string, string>> = Object.freeze({
  nodejs_active_handles_total: 'nodejs_active_handles_all',
  nodejs_active_requests_total: 'nodejs_active_requests_all',
  nodejs_active_resources_total: 'nodejs_active_resources_all',
});

/**
 * Registers prom-client's default metrics in `registry` (never the global one): every collector
 * of `collectDefaultMetrics.metricsList` except the two in {@link OWNED}, which are built here so
 * that they can be stopped, with the gauges of {@link RENAMED_GAUGES} renamed. Reads /proc on Linux,
 * so call it from a start hook.
 */
export function startRuntimeMetrics(options: RuntimeMetricsOptions): RuntimeMetrics {
  const { registry, prefix } = options;
  const require = createRequire(import.meta.url);
  const unavailable: string[] = [];
  for (const name of collectDefaultMetrics.metricsList) {
    if (OWNED.has(name)) continue;
    let collector: Collector;
    try {
      // prom-client exports each collector only through collectDefaultMetrics(); it has no
      // "exports" map, so its per-collector modules are loadable by path.
      collector = require(`prom-client/lib/metrics/${name}.js`) as Collector;
    } catch {
      unavailable.push(name);
      continue;
    }
    collector(registry, { prefix });
  }
  for (const [from, to] of Object.entries(RENAMED_GAUGES)) renameGauge(registry, prefix + from, prefix + to);
  const stopLag = eventLoopLag(registry, prefix, options.eventLoopResolutionMs);
  const stopGc = gcDuration(registry, prefix);
  let stopped = false;
  return {
    unavailable,
    stop(): void {
      if (stopped) return;
      stopped = true;
      stopLag();
      stopGc();
    },
  };
}

/** Builds a coded error describing unavailable collectors (for the log). */
export function unavailableError(names: readonly string[]): GantryError {
  return MetricsErrors.DEFAULT_METRICS_UNAVAILABLE(
    `plugin "metrics": prom-client default collectors not found: ${names.join(', ')}; their metrics are missing from the scrape`,
    {
      details: { collectors: [...names] },
    },
  );
}

/** Serves prom-client's gauge `from` as `to`: it leaves the registry and a gauge named `to` reads it at each scrape. */
function renameGauge(registry: Registry, from: string, to: string): void {
  const source = registry.getSingleMetric(from);
  if (source === undefined) return; // prom-client registers nothing when this Node lacks the API behind it.
  registry.removeSingleMetric(from);
  new Gauge({
    name: to,
    // Every prom-client metric has its help as a field; the TS types leave it out.
    help: (source as unknown as { readonly help: string }).help,
    registers: [registry],
    async collect() {
      // The source's collect() runs inside get(); without default labels it holds one unlabelled value.
      const { values } = await source.get();
      this.set(values[0]?.value ?? 0);
    },
  });
}

/** `nodejs_eventloop_lag_seconds` and its min/max/mean/stddev/p50/p90/p99 siblings, as prom-client names them. */
function eventLoopLag(registry: Registry, prefix: string, resolutionMs: number): () => void {
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  const registers = [registry];
  const gauge = (suffix: string, help: string): Gauge =>
    new Gauge({ name: `${prefix}nodejs_eventloop_lag_${suffix}`, help, registers });
  const lag = new Gauge({
    name: `${prefix}nodejs_eventloop_lag_seconds`,
    help: 'Lag of event loop in seconds.',
    registers,
    // One collect sets every lag gauge; the histogram window restarts at each scrape, as in prom-client.
    async collect() {
      if (histogram.count > 0) {
        min.set(histogram.min / 1e9);
        max.set(histogram.max / 1e9);
        mean.set(histogram.mean / 1e9);
        stddev.set(histogram.stddev / 1e9);
        p50.set(histogram.percentile(50) / 1e9);
        p90.set(histogram.percentile(90) / 1e9);
        p99.set(histogram.percentile(99) / 1e9);
        histogram.reset();
      }
      // Awaited here (prom-client fires and forgets it), so the value belongs to this scrape.
      const start = process.hrtime.bigint();
      await new Promise<void>((resolve) => setImmediate(resolve));
      lag.set(Number(process.hrtime.bigint() - start) / 1e9);
    },
  });
  const min = gauge('min_seconds', 'The minimum recorded event loop delay.');
  const max = gauge('max_seconds', 'The maximum recorded event loop delay.');
  const mean = gauge('mean_seconds', 'The mean of the recorded event loop delays.');
  const stddev = gauge('stddev_seconds', 'The standard deviation of the recorded event loop delays.');
  const p50 = gauge('p50_seconds', 'The 50th percentile of the recorded event loop delays.');
  const p90 = gauge('p90_seconds', 'The 90th percentile of the recorded event loop delays.');
  const p99 = gauge('p99_seconds', 'The 99th percentile of the recorded event loop delays.');
  return () => histogram.disable();
}

const GC_KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** `nodejs_gc_duration_seconds{kind}` with prom-client's buckets. */
function gcDuration(registry: Registry, prefix: string): () => void {
  const histogram = new Histogram({
    name: `${prefix}nodejs_gc_duration_seconds`,
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    registers: [registry],
  });
  // One frozen label object per kind: GC entries arrive often, so no allocation per entry.
  const labels = new Map<string, { kind: string }>();
  const labelsFor = (kind: string): { kind: string } => {
    let l = labels.get(kind);
    if (!l) labels.set(kind, (l = Object.freeze({ kind })));
    return l;
  };
  const observer = new PerformanceObserver((list) => {
    // Every buffered entry counts (prom-client 15 reads only the first of each batch).
    for (const entry of list.getEntries()) {
      const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'unknown';
      histogram.observe(labelsFor(kind), entry.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}
