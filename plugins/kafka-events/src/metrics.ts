import type { Container } from '@gantry/core';
import type { EventsService } from './events.js';
import { MetricsToken } from './peer-tokens.js';

/**
 * How long a scrape waits for a consumer-lag answer it asked for before serving the last value: well
 * under the shortest scrape timeout in use (Prometheus caps it at the scrape interval, 1 s in tests).
 */
const LAG_WAIT_MS = 250;

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
  // A scrape must answer within Prometheus's timeout even when the broker does not: each group's lag
  // is asked for at most once at a time, and a scrape waits at most LAG_WAIT_MS, only for the answers
  // it asked for itself. An answer still in flight from an earlier scrape (a slow or unreachable
  // broker) is not waited for again: the last value is served, and the answer lands in a later scrape.
  const lagLast = new Map<string, number>();
  const lagInFlight = new Map<string, Promise<void>>();
  /** Asks for a group's lag unless a request is in flight; returns the new request, if any. */
  const refreshLag = (g: { group: string; topics: readonly string[] }): Promise<void> | undefined => {
    if (lagInFlight.has(g.group)) return undefined;
    const pending = events.driver
      .lag(g.group, g.topics)
      .then(
        (lag) =>
          void lagLast.set(
            g.group,
            lag.partitions.reduce((sum, p) => sum + Math.max(0, p.lag), 0),
          ),
        () => undefined, // broker unreachable: keep the last value
      )
      .finally(() => lagInFlight.delete(g.group));
    lagInFlight.set(g.group, pending);
    return pending;
  };
  scope.gauge({
    name: 'consumer_lag',
    help: 'Records not yet handled per consumer group (high watermark minus committed offset)',
    labelNames: ['group'],
    async collect() {
      const groups = events.groups();
      const asked = groups.map(refreshLag).filter((p) => p !== undefined);
      if (asked.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.all(asked),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, LAG_WAIT_MS).unref())),
        ]).finally(() => clearTimeout(timer));
      }
      for (const g of groups) {
        const lag = lagLast.get(g.group);
        if (lag !== undefined) this.set({ group: g.group }, lag);
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
