import { setTimeout as delay } from 'node:timers/promises';
import type {
  ConsumeOptions,
  EventDriver,
  GroupLag,
  IncomingMessage,
  OutgoingMessage,
  SendOptions,
  Subscription,
} from '../driver.js';
import { KafkaEventsErrors } from '../errors.js';

interface StoredTopic {
  readonly partitions: IncomingMessage[][];
  /** Round-robin cursor for records without a key. */
  next: number;
}

interface Group {
  /** `topic:partition` → next offset to read (the committed offset). */
  readonly committed: Map<string, number>;
  /** `topic:partition` → the member currently holding it (one reader per partition, as in Kafka). */
  readonly owners: Map<string, symbol>;
}

/**
 * The in-process broker behind the `memory` driver: topics split into partitions by key hash,
 * consumer groups with committed offsets and one reader per partition. Kernels that name the same
 * broker (`memoryBroker` option) share it, like app instances sharing a Kafka cluster.
 */
export class MemoryBroker {
  private readonly topics = new Map<string, StoredTopic>();
  private readonly groups = new Map<string, Group>();
  private waiters = new Set<() => void>();
  private available = true;

  constructor(readonly defaultPartitions = 3) {}

  /** Simulates a broker outage: sends, reads and pings reject with BROKER_UNAVAILABLE until {@link up}. */
  down(): void {
    this.available = false;
  }

  /** Ends a simulated outage. */
  up(): void {
    this.available = true;
    this.wake();
  }

  /** True unless {@link down} was called. */
  get isUp(): boolean {
    return this.available;
  }

  /** Every record of a topic, partition by partition (tests and DLQ inspection). */
  records(topic: string): IncomingMessage[] {
    const t = this.topics.get(topic);
    if (!t) return [];
    return t.partitions.flat().sort((a, b) => a.timestamp - b.timestamp || a.partition - b.partition);
  }

  /** Names of the topics created so far. */
  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  assertUp(): void {
    if (!this.available)
      throw KafkaEventsErrors.BROKER_UNAVAILABLE('the in-process broker is down (MemoryBroker.down() was called)');
  }

  topic(name: string, partitions?: number): StoredTopic {
    let t = this.topics.get(name);
    if (!t) {
      const n = Math.max(1, partitions ?? this.defaultPartitions);
      t = { partitions: Array.from({ length: n }, () => []), next: 0 };
      this.topics.set(name, t);
    }
    return t;
  }

  append(message: OutgoingMessage): void {
    const t = this.topic(message.topic);
    const n = t.partitions.length;
    const partition = message.key === null ? t.next++ % n : partitionFor(message.key, n);
    const log = t.partitions[partition]!;
    log.push({
      topic: message.topic,
      key: message.key,
      value: Buffer.from(message.value),
      headers: { ...message.headers },
      partition,
      offset: String(log.length),
      timestamp: Date.now(),
    });
  }

  group(id: string): Group {
    let g = this.groups.get(id);
    if (!g) {
      g = { committed: new Map(), owners: new Map() };
      this.groups.set(id, g);
    }
    return g;
  }

  /** Resolves at the next append, ownership change or outage end (or after `ms`). */
  async changed(ms: number, signal?: AbortSignal): Promise<void> {
    let wakeUp!: () => void;
    const woken = new Promise<void>((resolve) => {
      wakeUp = resolve;
    });
    this.waiters.add(wakeUp);
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await Promise.race([woken, delay(ms, undefined, { signal: ac.signal }).catch(() => undefined)]);
    } finally {
      ac.abort();
      signal?.removeEventListener('abort', onAbort);
      this.waiters.delete(wakeUp);
    }
  }

  wake(): void {
    const waiting = this.waiters;
    this.waiters = new Set();
    for (const w of waiting) w();
  }
}

/** Kafka's default partitioner for keyed records: murmur2 of the key, positive, modulo the partitions. */
export function partitionFor(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions;
}

function murmur2(data: Buffer): number {
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  const length = data.length;
  let h = seed ^ length;
  const length4 = Math.floor(length / 4);
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) +
      ((data[i4 + 1]! & 0xff) << 8) +
      ((data[i4 + 2]! & 0xff) << 16) +
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length % 4;
  const tail = length & ~3;
  if (rest === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[tail]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

const brokers = new Map<string, MemoryBroker>();

/**
 * The process-wide in-process broker called `name` (created on first use). Kernels configured with the
 * same `memoryBroker` name share it; tests use it to read topics and to simulate an outage.
 */
export function memoryBroker(name: string): MemoryBroker {
  let b = brokers.get(name);
  if (!b) {
    b = new MemoryBroker();
    brokers.set(name, b);
  }
  return b;
}

/** Options of {@link createMemoryDriver}. */
export interface MemoryDriverOptions {
  /** The broker to use (default: a private one). */
  readonly broker?: MemoryBroker;
  /** Partitions of topics created implicitly. */
  readonly partitions?: number;
}

/** The in-process {@link EventDriver}: Kafka's semantics (partitions by key, groups, committed offsets) without a broker. */
export function createMemoryDriver(options: MemoryDriverOptions = {}): EventDriver {
  const broker = options.broker ?? new MemoryBroker(options.partitions);
  const subscriptions = new Set<MemorySubscription>();
  return {
    name: 'memory',
    async connect() {
      broker.assertUp();
    },
    async ensureTopics(topics) {
      broker.assertUp();
      for (const t of topics) broker.topic(t.topic, t.partitions ?? options.partitions);
    },
    async send(messages: readonly OutgoingMessage[], sendOptions?: SendOptions) {
      sendOptions?.signal?.throwIfAborted();
      broker.assertUp();
      for (const m of messages) broker.append(m);
      broker.wake();
      // An acknowledgement is asynchronous on a real broker too: callers must not rely on it being synchronous.
      await Promise.resolve();
    },
    async consume(consumeOptions: ConsumeOptions): Promise<Subscription> {
      broker.assertUp();
      const sub = new MemorySubscription(broker, consumeOptions, options.partitions);
      subscriptions.add(sub);
      sub.start();
      return {
        stop: async () => {
          subscriptions.delete(sub);
          await sub.stop();
        },
      };
    },
    async read(topic, readOptions) {
      broker.assertUp();
      return broker.records(topic).slice(0, readOptions?.limit ?? Number.POSITIVE_INFINITY);
    },
    async lag(groupId, topics): Promise<GroupLag> {
      const g = broker.group(groupId);
      const partitions: { topic: string; partition: number; lag: number }[] = [];
      for (const topic of topics) {
        broker.topic(topic, options.partitions).partitions.forEach((log, partition) => {
          partitions.push({ topic, partition, lag: log.length - (g.committed.get(`${topic}:${partition}`) ?? 0) });
        });
      }
      return { groupId, partitions };
    },
    async ping() {
      broker.assertUp();
    },
    async close() {
      await Promise.all([...subscriptions].map((s) => s.stop()));
      subscriptions.clear();
    },
  };
}

class MemorySubscription {
  private readonly me = Symbol('member');
  private readonly ac = new AbortController();
  private workers: Promise<void>[] = [];

  constructor(
    private readonly broker: MemoryBroker,
    private readonly options: ConsumeOptions,
    private readonly partitions: number | undefined,
  ) {}

  start(): void {
    const group = this.broker.group(this.options.groupId);
    for (const topic of this.options.topics) {
      const t = this.broker.topic(topic, this.partitions);
      for (let p = 0; p < t.partitions.length; p++) {
        const tp = `${topic}:${p}`;
        if (!group.committed.has(tp) && this.options.from === 'latest')
          group.committed.set(tp, t.partitions[p]!.length);
        this.workers.push(this.work(topic, p, t.partitions[p]!, group));
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.ac.signal.aborted) this.ac.abort();
    this.broker.wake();
    await Promise.all(this.workers);
  }

  /** One partition: claims it for this member when free, then handles records in offset order. */
  private async work(topic: string, partition: number, log: IncomingMessage[], group: Group): Promise<void> {
    const tp = `${topic}:${partition}`;
    const signal = this.ac.signal;
    try {
      while (!signal.aborted) {
        const owner = group.owners.get(tp);
        if (owner !== this.me) {
          if (owner !== undefined) {
            await this.broker.changed(1_000, signal);
            continue;
          }
          group.owners.set(tp, this.me);
        }
        const offset = group.committed.get(tp) ?? 0;
        if (offset >= log.length || !this.broker.isUp) {
          await this.broker.changed(1_000, signal);
          continue;
        }
        try {
          await this.options.handle(log[offset]!);
          group.committed.set(tp, offset + 1);
          // Handlers may answer without I/O: yield so a backlog does not starve timers and sockets.
          await new Promise((resolve) => setImmediate(resolve));
        } catch {
          // Not committed: the same record is read again after the delay (at least once).
          await delay(this.options.retryDelayMs ?? 1_000, undefined, { signal }).catch(() => undefined);
        }
      }
    } finally {
      if (group.owners.get(tp) === this.me) {
        group.owners.delete(tp);
        this.broker.wake();
      }
    }
  }
}
