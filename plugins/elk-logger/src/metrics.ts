import type { Container } from '@gantry/core';
import { MetricsToken } from './peer-tokens.js';
import type { ElkShipping, TransportStats } from './shipping.js';

const TRANSPORTS = ['logstash', 'elasticsearch'] as const;

/**
 * Registers the shipping counters with the `metrics` plugin (called only when it is enabled):
 * `elk_logger_{shipped,dropped,failed,errors}_total{transport}` and `elk_logger_buffered{transport}`,
 * read from the transports' own counters at scrape time.
 */
export function registerElkMetrics(container: Container, pluginName: string, shipping: ElkShipping): void {
  const metrics = container.tryGet(MetricsToken);
  if (!metrics) return;
  const scope = metrics.forPlugin(pluginName);
  const counters: [string, keyof TransportStats, string][] = [
    ['shipped_total', 'shipped', 'Log lines handed to Logstash or accepted by Elasticsearch, per transport'],
    [
      'dropped_total',
      'dropped',
      'Log lines dropped because the transport buffer was full (oldest first), per transport',
    ],
    ['failed_total', 'failed', 'Log lines refused for good by Elasticsearch (4xx), per transport'],
    ['errors_total', 'errors', 'Failed shipping attempts (connection refused or lost, _bulk failed), per transport'],
  ];
  for (const [name, field, help] of counters) {
    scope.counter({
      name,
      help,
      labelNames: ['transport'],
      collect() {
        const stats = shipping.stats();
        this.reset();
        for (const t of TRANSPORTS) if (stats[t].enabled) this.inc({ transport: t }, stats[t][field] as number);
      },
    });
  }
  scope.gauge({
    name: 'buffered',
    help: 'Log lines waiting in the transport buffer, per transport',
    labelNames: ['transport'],
    collect() {
      const stats = shipping.stats();
      for (const t of TRANSPORTS) if (stats[t].enabled) this.set({ transport: t }, stats[t].buffered);
    },
  });
  scope.gauge({
    name: 'connected',
    help: '1 while the transport ships (Logstash connected, Elasticsearch answering), per transport',
    labelNames: ['transport'],
    collect() {
      const stats = shipping.stats();
      for (const t of TRANSPORTS) if (stats[t].enabled) this.set({ transport: t }, stats[t].connected ? 1 : 0);
    },
  });
}
