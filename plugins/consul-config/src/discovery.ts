import type { Logger } from '@gantry/core';
import type Consul from 'consul';
import { BlockingWatch, type ConsulAnswer } from './blocking.js';
import { describeConsulError } from './client.js';
import { ConsulConfigErrors } from './errors.js';

/** One healthy instance of a service. */
export interface ServiceInstance {
  readonly id: string;
  readonly service: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
}

/** Healthy instances of services, watched in Consul and cached (provided as DiscoveryToken). */
export interface Discovery {
  /**
   * The instances of `service` whose every check passes. The first call for a service waits for
   * Consul's answer (bounded by discovery.resolveTimeoutMs) and starts a watch; later calls answer
   * from the cache the watch keeps current. An empty list means none is healthy now.
   */
  resolve(service: string): Promise<readonly ServiceInstance[]>;
  /** The cached instances of a watched service (undefined before its first answer). */
  cached(service: string): readonly ServiceInstance[] | undefined;
}

interface HealthEntry {
  Node?: { Address?: string };
  Service: {
    ID: string;
    Service: string;
    Address?: string;
    Port: number;
    Tags?: string[];
    Meta?: Record<string, string>;
  };
}

interface Watched {
  instances: readonly ServiceInstance[] | undefined;
  first: Promise<void>;
  watch: BlockingWatch<HealthEntry[]>;
  lastError?: string;
}

/** {@link Discovery} on Consul's `/v1/health/service/<name>?passing`, one blocking watch per service. */
export class ConsulDiscovery implements Discovery {
  private readonly services = new Map<string, Watched>();
  private closed = false;

  constructor(
    private readonly options: {
      readonly client: Consul;
      readonly waitMs: number;
      readonly resolveTimeoutMs: number;
      readonly backoff: { readonly initialMs: number; readonly maxMs: number };
      readonly logger: Logger;
    },
  ) {}

  async resolve(service: string): Promise<readonly ServiceInstance[]> {
    const watched = this.watch(service);
    if (watched.instances) return watched.instances;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        watched.first,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                ConsulConfigErrors.DISCOVERY_TIMEOUT(
                  `no answer from Consul about service "${service}" within ${this.options.resolveTimeoutMs} ms${watched.lastError ? ` (${watched.lastError})` : ''}`,
                  { details: { service, reason: watched.lastError } },
                ),
              ),
            this.options.resolveTimeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    return watched.instances ?? [];
  }

  cached(service: string): readonly ServiceInstance[] | undefined {
    return this.services.get(service)?.instances;
  }

  /** Services being watched, with their instance count (readiness details). */
  summary(): Record<string, number | null> {
    return Object.fromEntries([...this.services].map(([name, w]) => [name, w.instances?.length ?? null]));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.services.values()].map((w) => w.watch.stop()));
    this.services.clear();
  }

  private watch(service: string): Watched {
    const existing = this.services.get(service);
    if (existing) return existing;
    if (this.closed) throw ConsulConfigErrors.NO_HEALTHY_INSTANCE(`discovery is stopped: cannot resolve "${service}"`);
    const { client, waitMs, backoff, logger } = this.options;
    let settle!: () => void;
    const first = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const watched: Watched = {
      instances: undefined,
      first,
      watch: new BlockingWatch<HealthEntry[]>({
        waitMs,
        backoff,
        query: (call) =>
          client.health.service({ service, passing: true, ...call } as never) as unknown as Promise<
            ConsulAnswer<HealthEntry[]>
          >,
        onData: (data) => {
          const instances = (data ?? []).map(
            (e): ServiceInstance =>
              Object.freeze({
                id: e.Service.ID,
                service: e.Service.Service,
                // Consul: an empty service address means the node's.
                address: e.Service.Address || e.Node?.Address || '127.0.0.1',
                port: e.Service.Port,
                tags: Object.freeze([...(e.Service.Tags ?? [])]),
                meta: Object.freeze({ ...(e.Service.Meta ?? {}) }),
              }),
          );
          const before = watched.instances?.map((i) => i.id).join();
          watched.instances = Object.freeze(instances);
          watched.lastError = undefined;
          if (before !== instances.map((i) => i.id).join())
            logger.info(
              { service, instances: instances.map((i) => i.id) },
              `discovery: ${instances.length} healthy instance(s) of "${service}"`,
            );
          settle();
        },
        onError: (err, attempt, delayMs) => {
          watched.lastError = describeConsulError(err);
          if (attempt === 1)
            logger.warn(
              { service, reason: watched.lastError, retryInMs: delayMs },
              `discovery watch of "${service}" failed (${watched.lastError}); keeping the last known instances, retrying`,
            );
        },
      }),
    };
    this.services.set(service, watched);
    watched.watch.start();
    return watched;
  }
}
