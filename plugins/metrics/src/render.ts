import type { Registry } from 'prom-client';
import { MetricsErrors } from './errors.js';

/**
 * Renders the registry as `registry.metrics()` does for the Prometheus text format, one metric at
 * a time so that a failing `collect()` can be named: the scrape then fails with
 * GANTRY_METRICS_SCRAPE_FAILED listing the metrics whose collect threw (a partial scrape would
 * hide the gap from Prometheus).
 */
export async function renderRegistry(registry: Registry): Promise<string> {
  const names = registry.getMetricsAsArray().map((m) => m.name);
  const parts = await Promise.allSettled(names.map((name) => registry.getSingleMetricAsString(name)));
  const failed: { name: string; error: string }[] = [];
  const texts: string[] = [];
  parts.forEach((p, i) => {
    if (p.status === 'fulfilled') texts.push(p.value);
    else failed.push({ name: names[i]!, error: (p.reason as Error)?.message ?? String(p.reason) });
  });
  if (failed.length > 0) {
    const first = parts.find((p): p is PromiseRejectedResult => p.status === 'rejected')!;
    throw MetricsErrors.SCRAPE_FAILED(
      `plugin "metrics": collect() failed for ${failed.map((f) => `${f.name} (${f.error})`).join(', ')}`,
      {
        cause: first.reason,
        details: { metrics: failed.map((f) => f.name) },
      },
    );
  }
  return `${texts.join('\n\n')}\n`;
}
