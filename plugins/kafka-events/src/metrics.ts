import type { Container } from '@gantry/core';
import type { EventsService } from './events.js';
import { MetricsToken } from './peer-tokens.js';

/**
 * Registers the events metrics with the `metrics` plugin when it is enabled (its token is declared by
 * name: applications without it never load prom-client).
 */
export function registerEventsMetrics(options: {
  container: Container;
  events: EventsService;
  pluginName: string;
}): void {
  const metrics = options.container.tryGet(MetricsToken);
  if (!metrics) return;
  const { events } = options;
  const scope = metrics.forPlugin(options.pluginName);
  const published = scope.counter({
    name: 'published_total',
    help: 'Events acknowledged by the broker, by type',
    labelNames: ['type'],
  });
  const consumed = scope.counter({
    name: 'consumed_total',
    help: 'Events handled successfully, by type',
    labelNames: ['type'],
  });
  const failed = scope.counter({
    name: 'failed_total',
    help: 'Failed handler attempts, by type',
    labelNames: ['type'],
  });
  const retried = scope.counter({
    name: 'retried_total',
    help: 'Events sent to a retry topic, by type',
    labelNames: ['type'],
  });
  const dead = scope.counter({
    name: 'dead_lettered_total',
    help: 'Events sent to the DLQ, by type',
    labelNames: ['type'],
  });
  const duration = scope.histogram({
    name: 'handler_duration_seconds',
    help: 'Time handlers took for one event, by type',
    labelNames: ['type'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  });
  events.observer = {
    published: (type, n) => published.inc({ type }, n),
    consumed: (type, seconds) => {
      consumed.inc({ type });
      duration.observe({ type }, seconds);
    },
    failed: (type) => failed.inc({ type }),
    retried: (type) => retried.inc({ type }),
    deadLettered: (type) => dead.inc({ type }),
  };
  scope.gauge({
    name: 'consumer_lag',
    help: 'Records not yet handled per consumer group (high watermark minus committed offset)',
    labelNames: ['group'],
    async collect() {
      for (const g of events.groups()) {
        try {
          const lag = await events.driver.lag(g.group, g.topics);
          this.set(
            { group: g.group },
            lag.partitions.reduce((sum, p) => sum + Math.max(0, p.lag), 0),
          );
        } catch {
          // Broker unreachable: keep the last value.
        }
      }
    },
  });
  if (events.hasOutbox()) {
    let last: Promise<{ depth: number; oldestAgeMs: number } | undefined> | undefined;
    // One query feeds both gauges of a scrape.
    const stats = () => {
      last ??= events.outboxStats().finally(() => setTimeout(() => (last = undefined), 100).unref());
      return last;
    };
    scope.gauge({
      name: 'outbox_depth',
      help: 'Outbox rows not sent yet',
      async collect() {
        const s = await stats().catch(() => undefined);
        if (s) this.set(s.depth);
      },
    });
    scope.gauge({
      name: 'outbox_oldest_age_seconds',
      help: 'Age of the oldest outbox row not sent yet (0 when empty)',
      async collect() {
        const s = await stats().catch(() => undefined);
        if (s) this.set(s.oldestAgeMs / 1_000);
      },
    });
  }
}
