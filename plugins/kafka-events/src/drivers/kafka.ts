import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ConnectionOptions } from 'node:tls';
import { GantryError, type Logger, silentLogger } from '@gantry/core';
import type { Admin, Consumer, EachBatchPayload, KafkaMessage, LogEntry, Producer, SASLOptions } from 'kafkajs';
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
import { fixKafkajsEncoderAllocation, fixKafkajsPendingCheck } from './kafkajs-fixes.js';

// kafkajs is required here, after the fix that must come before it loads: a static import would load
// it (a CommonJS module) while this module links, before any of its code runs.
fixKafkajsEncoderAllocation();
const {
  Kafka,
  Partitioners,
  CompressionTypes,
  logLevel: KafkaLogLevel,
} = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs');
fixKafkajsPendingCheck();

/** Options of {@link createKafkaDriver}. Every timeout bounds a wait; none is infinite. */
export interface KafkaDriverOptions {
  /** Seed brokers as `host:port` (at least one). */
  readonly brokers: readonly string[];
  /** Kafka client id (broker logs, quotas). Default `gantry`. */
  readonly clientId?: string;
  /** TLS to the brokers: `true` for the system CAs, or Node TLS options. Default off. */
  readonly ssl?: boolean | ConnectionOptions;
  /** SASL (plain, scram-sha-256/512) credentials. Default none. */
  readonly sasl?: SASLOptions;
  /** Where kafkajs's own log lines go (as `component: "kafkajs"`). Default: discarded. */
  readonly logger?: Logger;
  /** Lowest kafkajs level passed to `logger`. Default `warn`. */
  readonly logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** TCP connect timeout per broker. Default 3000 ms. */
  readonly connectionTimeoutMs?: number;
  /** One request's timeout. Default 10000 ms. */
  readonly requestTimeoutMs?: number;
  /**
   * Longest a `send`, `connect`, `ensureTopics`, `read` or `lag` waits for the broker before it rejects with
   * GANTRY_KAFKA_EVENTS_BROKER_UNAVAILABLE. Default 10000 ms.
   */
  readonly operationTimeoutMs?: number;
  /** Concurrent `send()` calls within this window go out as one request. Default 5 ms. */
  readonly lingerMs?: number;
  /** Most records in one produce request (whole `send()` calls are never split). Default 1000. */
  readonly maxBatchRecords?: number;
  /** Partitions of one subscription handled at the same time (order per partition is always kept). Default 3. */
  readonly partitionsConsumedConcurrently?: number;
  /** Consumer group session timeout. Default 10000 ms. */
  readonly sessionTimeoutMs?: number;
}

interface PendingSend {
  readonly messages: readonly OutgoingMessage[];
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: (() => void) | undefined;
  /** The caller's deadline (operationTimeoutMs from the call, queueing included). */
  timer: NodeJS.Timeout | undefined;
  settled: boolean;
}

/** Names of kafkajs errors that mean "the broker could not be reached or did not answer in time". */
const UNAVAILABLE_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSTimeout',
]);

/** kafkajs ERROR lines about states the client retries by itself: logged as warnings, not errors. */
const TRANSIENT = new RegExp(
  [
    'coordinator is loading',
    'coordinator is not available',
    'not the correct coordinator',
    'concurrent',
    'leader not available',
    'not the leader',
    'leadership election',
    'does not host this topic-partition',
    'rebalanc',
    'not aware of this member',
    'generation id is not valid',
    'Restarting the consumer',
    // kafkajs logs every consumer crash as an error before it decides to restart; a crash it does not
    // restart is logged as an error by this driver (the subscription's crash listener).
    '^Crash: ',
    'ECONNREFUSED',
    'ECONNRESET',
    'Connection error',
    'Closed connection',
    'Request .* timed out',
    'Failed to connect to seed broker',
  ].join('|'),
  'i',
);

/**
 * kafkajs warns on every idempotent producer with bounded retries. Bounded on purpose: an outage must reject
 * sends in bounded time (at-least-once: a rejected send may still have been written, the caller sends again).
 */
const EXPECTED_WARNING = /Limiting retries for the idempotent producer/;

const UNKNOWN_TOPIC = /UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition|This server does not host/i;

/**
 * The kafkajs driver: Kafka 2.x to 4.x brokers (ZooKeeper or KRaft mode).
 *
 * - Producer: idempotent (`acks=all`, one request in flight per broker so order survives retries), GZIP,
 *   and keys placed by kafkajs's `DefaultPartitioner`, which is the Java client's murmur2 partitioner: a key
 *   lands on the partition a Java, librdkafka-with-murmur2 or Kafka Streams producer would pick.
 * - `send()` calls made within `lingerMs` of each other are coalesced into one produce request; each
 *   call resolves once the broker acknowledged the request carrying its records. A failed request rejects
 *   every call in it (the records of a rejected call may still have been written: at-least-once). A call
 *   marked `batched` (the outbox relay's) goes without the linger when no request is in flight.
 * - Consumers commit offsets only after `handle` resolved (autoCommit off). A rejection pauses that
 *   partition only; it is re-read from the failed offset after `retryDelayMs`. After a broker outage a
 *   subscription rejoins by itself (kafkajs restarts retriable crashes; this driver restarts the others).
 */
export function createKafkaDriver(options: KafkaDriverOptions): EventDriver {
  return new KafkaDriver(options);
}

class KafkaDriver implements EventDriver {
  readonly name = 'kafka';
  private readonly kafka: InstanceType<typeof Kafka>;
  private producer: Producer;
  private readonly admin: Admin;
  private readonly log: Logger;
  private readonly clientId: string;
  private readonly operationTimeoutMs: number;
  private readonly lingerMs: number;
  private readonly maxBatchRecords: number;
  private readonly concurrency: number;
  private readonly sessionTimeoutMs: number;
  private readonly brokers: readonly string[];
  private readonly queue: PendingSend[] = [];
  private readonly subscriptions = new Set<KafkaSubscription>();
  private lingerTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private producerConnected: Promise<void> | undefined;
  private adminConnected: Promise<void> | undefined;
  private closed = false;

  constructor(options: KafkaDriverOptions) {
    const brokers = [...(options.brokers ?? [])];
    if (brokers.length === 0 || brokers.some((b) => !/^[^\s:]+:\d{1,5}$/.test(b))) {
      throw KafkaEventsErrors.DRIVER_OPTIONS_INVALID(
        `kafka-events: brokers must be a non-empty list of host:port, got ${JSON.stringify(options.brokers)}`,
      );
    }
    for (const key of [
      'connectionTimeoutMs',
      'requestTimeoutMs',
      'operationTimeoutMs',
      'maxBatchRecords',
      'partitionsConsumedConcurrently',
      'sessionTimeoutMs',
    ] as const) {
      const value = options[key];
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw KafkaEventsErrors.DRIVER_OPTIONS_INVALID(`kafka-events: ${key} must be a positive integer, got ${value}`);
      }
    }
    if (options.lingerMs !== undefined && !(Number.isInteger(options.lingerMs) && options.lingerMs >= 0)) {
      throw KafkaEventsErrors.DRIVER_OPTIONS_INVALID(
        `kafka-events: lingerMs must be 0 or more, got ${options.lingerMs}`,
      );
    }
    this.brokers = brokers;
    this.clientId = options.clientId ?? 'gantry';
    this.operationTimeoutMs = options.operationTimeoutMs ?? 10_000;
    this.lingerMs = options.lingerMs ?? 5;
    this.maxBatchRecords = options.maxBatchRecords ?? 1000;
    this.concurrency = options.partitionsConsumedConcurrently ?? 3;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    this.log = (options.logger ?? silentLogger()).child({ component: 'kafkajs' });
    const requestTimeout = options.requestTimeoutMs ?? 10_000;
    this.kafka = new Kafka({
      clientId: this.clientId,
      brokers,
      ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
      ...(options.sasl === undefined ? {} : { sasl: options.sasl }),
      connectionTimeout: options.connectionTimeoutMs ?? 3000,
      requestTimeout,
      // Bounded: a dead cluster fails an operation within seconds; our operation timer is the outer bound.
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
      logLevel: levelOf(options.logLevel ?? 'warn'),
      logCreator: () => (entry) => this.route(entry),
    });
    this.producer = this.newProducer();
    this.admin = this.kafka.admin({ retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 } });
  }

  async connect(): Promise<void> {
    this.assertOpen();
    await this.bounded('connect', Promise.all([this.connectProducer(), this.connectAdmin()]));
  }

  async ensureTopics(topics: ReadonlyArray<{ topic: string; partitions?: number }>): Promise<void> {
    this.assertOpen();
    if (topics.length === 0) return;
    await this.bounded(
      'ensureTopics',
      (async () => {
        await this.connectAdmin();
        await this.admin.createTopics({
          waitForLeaders: true,
          timeout: this.operationTimeoutMs,
          topics: topics.map((t) => ({ topic: t.topic, ...(t.partitions ? { numPartitions: t.partitions } : {}) })),
        });
      })(),
    );
  }

  send(messages: readonly OutgoingMessage[], options: SendOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    if (messages.length === 0) return Promise.resolve();
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      // Given up before its request went out (abort, deadline): never sent. Given up while its request
      // runs: the records may still land (the request is not cancelled), so a retry may duplicate them.
      const giveUp = (error: unknown) => {
        const queued = this.queue.indexOf(entry);
        if (queued >= 0) this.queue.splice(queued, 1);
        settle(entry, () => reject(error));
      };
      const entry: PendingSend = {
        messages,
        settled: false,
        signal,
        onAbort: signal ? () => giveUp(signal.reason) : undefined,
        timer: setTimeout(
          () => giveUp(unavailable('send', undefined, this.operationTimeoutMs, this.brokers)),
          this.operationTimeoutMs,
        ),
        resolve: () => settle(entry, resolve),
        reject: (error) => settle(entry, () => reject(error)),
      };
      if (signal && entry.onAbort) signal.addEventListener('abort', entry.onAbort, { once: true });
      this.queue.push(entry);
      if (options.batched && !this.inFlight) {
        clearTimeout(this.lingerTimer);
        this.lingerTimer = undefined;
        this.flush();
      } else this.scheduleFlush();
    });
  }

  async consume(options: ConsumeOptions): Promise<Subscription> {
    this.assertOpen();
    if (options.topics.length === 0) {
      throw KafkaEventsErrors.DRIVER_OPTIONS_INVALID('kafka-events: consume() needs at least one topic');
    }
    const subscription = new KafkaSubscription(this.kafka, this.log, options, {
      concurrency: this.concurrency,
      sessionTimeoutMs: this.sessionTimeoutMs,
      onStopped: (s) => this.subscriptions.delete(s),
    });
    this.subscriptions.add(subscription);
    try {
      await this.bounded('consume', subscription.start());
    } catch (error) {
      await subscription.stop().catch(() => undefined);
      throw error;
    }
    return subscription;
  }

  async read(topic: string, options: { limit?: number } = {}): Promise<IncomingMessage[]> {
    this.assertOpen();
    const limit = options.limit ?? 100;
    if (limit <= 0) return [];
    const ends = new Map<number, bigint>();
    try {
      await this.bounded('read', this.connectAdmin());
      const offsets = await this.bounded('read', this.admin.fetchTopicOffsets(topic));
      for (const p of offsets) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
    } catch (error) {
      if (UNKNOWN_TOPIC.test(messageChain(error))) return [];
      throw error;
    }
    if (ends.size === 0) return [];
    // kafkajs has no group-less consumer: a throwaway group that never commits, deleted afterwards.
    const groupId = `${this.clientId}-read-${randomUUID()}`;
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: this.sessionTimeoutMs,
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    });
    const out: IncomingMessage[] = [];
    const pending = new Set(ends.keys());
    let done!: () => void;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const crashed = new Promise<never>((_, reject) => {
      consumer.on(consumer.events.CRASH, (event) => reject(unavailable('read', event.payload.error)));
    });
    crashed.catch(() => undefined);
    try {
      await this.bounded('read', consumer.connect());
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const end = ends.get(batch.partition);
          if (end === undefined) return;
          for (const m of batch.messages) {
            if (BigInt(m.offset) >= end || out.length >= limit) break;
            out.push(toIncoming(batch.topic, batch.partition, m));
          }
          const last = batch.messages.at(-1);
          if (out.length >= limit || (last && BigInt(last.offset) + 1n >= end)) pending.delete(batch.partition);
          if (out.length >= limit || pending.size === 0) done();
        },
      });
      await this.bounded('read', Promise.race([finished, crashed]));
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await this.admin.deleteGroups([groupId]).catch(() => undefined);
    }
    out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
    return out.slice(0, limit);
  }

  async lag(groupId: string, topics: readonly string[]): Promise<GroupLag> {
    this.assertOpen();
    const partitions: Array<{ topic: string; partition: number; lag: number }> = [];
    await this.bounded(
      'lag',
      (async () => {
        await this.connectAdmin();
        const committed = await this.admin.fetchOffsets({ groupId, topics: [...topics] });
        for (const topic of topics) {
          let ends: Awaited<ReturnType<Admin['fetchTopicOffsets']>>;
          try {
            ends = await this.admin.fetchTopicOffsets(topic);
          } catch (error) {
            if (UNKNOWN_TOPIC.test(messageChain(error))) continue;
            throw error;
          }
          const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
          for (const end of ends) {
            const at = mine.find((p) => p.partition === end.partition)?.offset ?? '-1';
            // No committed offset: everything still in the partition is unread.
            const from = BigInt(at) < 0n ? BigInt(end.low) : BigInt(at);
            const lag = BigInt(end.high) - from;
            partitions.push({ topic, partition: end.partition, lag: Number(lag > 0n ? lag : 0n) });
          }
        }
      })(),
    );
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    return { groupId, partitions };
  }

  async ping(timeoutMs: number): Promise<void> {
    this.assertOpen();
    await this.bounded(
      'ping',
      (async () => {
        await this.connectAdmin();
        await this.admin.describeCluster();
      })(),
      timeoutMs,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop().catch(() => undefined)));
    // Flush: what was queued before close() still goes out (bounded by the operation timeout).
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    for (;;) {
      const running = this.inFlight;
      if (running !== undefined) await running;
      else if (this.queue.length > 0) this.flush();
      else break;
    }
    await this.producer.disconnect().catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
  }

  // --- producer ---

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      // kafkajs's idempotent producer keeps order only with one request in flight.
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: true,
      retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2000 },
    });
  }

  /**
   * Replaces the producer whose idempotence state the broker refused (see {@link PRODUCER_STATE_ERRORS}):
   * kafkajs keeps a producer's id and sequence numbers for its whole life, so the same producer would be
   * refused again at every send. A new one gets a new producer id, sequences from 0.
   */
  private replaceProducer(error: unknown): void {
    const old = this.producer;
    this.producer = this.newProducer();
    this.producerConnected = undefined;
    this.log.warn(
      { error: messageChain(error) },
      "kafka-events: the broker refused the producer's sequence; sending with a new producer id",
    );
    void old.disconnect().catch(() => undefined);
  }

  private scheduleFlush(): void {
    if (this.lingerTimer || this.inFlight) return; // the running request flushes the rest when it ends
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.flush();
    }, this.lingerMs);
  }

  /** Sends queued calls as one request; one request at a time so per-key order holds across retries. */
  private flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch: PendingSend[] = [];
    let records = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as PendingSend;
      if (batch.length > 0 && records + next.messages.length > this.maxBatchRecords) break;
      this.queue.shift();
      if (next.settled) continue;
      batch.push(next);
      records += next.messages.length;
    }
    if (batch.length === 0) return;
    const byTopic = new Map<string, Array<{ key: string | null; value: Buffer; headers: Record<string, string> }>>();
    for (const entry of batch) {
      for (const m of entry.messages) {
        let list = byTopic.get(m.topic);
        if (!list) byTopic.set(m.topic, (list = []));
        list.push({ key: m.key, value: m.value, headers: { ...m.headers } });
      }
    }
    const request = (async () => {
      await this.connectProducer();
      await this.producer.sendBatch({
        acks: -1,
        compression: CompressionTypes.GZIP,
        timeout: this.operationTimeoutMs,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    })();
    // Callers stop waiting at their deadline; the request itself runs to its end (kafkajs's retries bound it).
    this.inFlight = request.then(
      () => {
        for (const entry of batch) entry.resolve();
      },
      (error: unknown) => {
        const coded = classify('send', error, this.brokers);
        for (const entry of batch) entry.reject(coded);
        if (isUnavailable(error))
          this.producerConnected = undefined; // reconnect on the next send
        else if (producerStateRefused(error)) this.replaceProducer(error);
      },
    );
    void this.inFlight.finally(() => {
      this.inFlight = undefined;
      // What queued meanwhile already waited at least one round trip, longer than the linger: send it now.
      if (this.queue.length > 0) this.flush();
    });
  }

  private connectProducer(): Promise<void> {
    this.producerConnected ??= this.producer.connect().catch((error: unknown) => {
      this.producerConnected = undefined;
      throw error;
    });
    return this.producerConnected;
  }

  private connectAdmin(): Promise<void> {
    this.adminConnected ??= this.admin.connect().catch((error: unknown) => {
      this.adminConnected = undefined;
      throw error;
    });
    return this.adminConnected;
  }

  // --- helpers ---

  /** Races `work` against the operation timeout; kafkajs errors become coded errors. */
  private async bounded<T>(operation: string, work: Promise<T>, timeoutMs = this.operationTimeoutMs): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(unavailable(operation, undefined, timeoutMs, this.brokers)), timeoutMs);
    });
    work.catch(() => undefined); // a late rejection after the timeout is not unhandled
    try {
      return await Promise.race([work, timeout]);
    } catch (error) {
      throw classify(operation, error, this.brokers);
    } finally {
      clearTimeout(timer);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private closedError(): GantryError {
    return KafkaEventsErrors.DRIVER_CLOSED('kafka-events: the Kafka driver is closed');
  }

  /** kafkajs log lines into the Gantry logger; known transient ERROR lines are warnings. */
  private route(entry: LogEntry): void {
    const {
      message,
      timestamp: _t,
      logger: _l,
      ...extra
    } = entry.log as {
      message: string;
      timestamp: string;
      logger?: string;
    } & Record<string, unknown>;
    const fields: Record<string, unknown> = { kafkajs: entry.namespace, ...extra };
    switch (entry.level) {
      case KafkaLogLevel.ERROR: {
        const text = `${message} ${typeof extra.error === 'string' ? extra.error : ''}`;
        if (TRANSIENT.test(text)) {
          // A retried, expected condition: one line without the stack.
          const { stack: _s, ...brief } = fields;
          this.log.warn(brief, message);
        } else this.log.error(fields, message);
        break;
      }
      case KafkaLogLevel.WARN:
        if (EXPECTED_WARNING.test(message)) this.log.debug(fields, message);
        else this.log.warn(fields, message);
        break;
      case KafkaLogLevel.INFO:
        this.log.info(fields, message);
        break;
      default:
        this.log.debug(fields, message);
    }
  }
}

/**
 * One consumer-group membership.
 * @internal Exported for its tests; plugins reach it through `EventDriver.consume`.
 */
export class KafkaSubscription implements Subscription {
  private consumer: Consumer | undefined;
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  private restartTimer: NodeJS.Timeout | undefined;
  /** The rejoin under way after a crash kafkajs does not restart; it never rejects. */
  private rejoining: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private stopped = false;
  private readonly retryDelayMs: number;

  constructor(
    private readonly kafka: InstanceType<typeof Kafka>,
    private readonly log: Logger,
    private readonly options: ConsumeOptions,
    private readonly settings: {
      concurrency: number;
      sessionTimeoutMs: number;
      onStopped: (s: KafkaSubscription) => void;
    },
  ) {
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.floor(this.settings.sessionTimeoutMs / 5)),
      maxWaitTimeInMs: 1000,
      allowAutoTopicCreation: false,
      // Retriable crashes (a broker outage) restart by themselves, unless the subscription is stopping;
      // onCrash below covers the others.
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 3000, restartOnFailure: async () => !this.stopped },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (event) => {
      if (this.stopped) {
        // kafkajs decides to restart after an await, and arms its restart timer right after this event: a
        // stop() that ran in between has already cleared the old timer. Disconnecting again clears this one,
        // so no consumer comes back to life after stop().
        if (event.payload.restart) setImmediate(() => consumer.disconnect().catch(() => undefined));
        return;
      }
      if (event.payload.restart) return;
      this.log.error(
        { groupId: this.options.groupId, error: String(event.payload.error) },
        'kafka-events: consumer crashed; rejoining the group',
      );
      this.scheduleRestart(consumer);
    });
    // stop() may come while this start is still on its way (a consume() that timed out, a rejoin): each step
    // checks it, so a consumer connected after stop() is disconnected instead of left running.
    await consumer.connect();
    if (this.stopped) return this.leave(consumer);
    await consumer.subscribe({ topics: [...this.options.topics], fromBeginning: this.options.from !== 'latest' });
    if (this.stopped) return this.leave(consumer);
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.concurrency,
      eachBatch: (payload) => this.eachBatch(consumer, payload),
    });
    if (this.stopped) return this.leave(consumer);
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.stopping ??= (async () => {
      if (this.restartTimer) clearTimeout(this.restartTimer);
      for (const t of this.resumeTimers) clearTimeout(t);
      this.resumeTimers.clear();
      // A rejoin under way ends first (it sees stopped and leaves), so the consumer disconnected below is the
      // last one it made.
      await this.rejoining;
      // disconnect() stops fetching, waits for the batch being handled (which commits), then leaves the group.
      await this.consumer?.disconnect();
      this.settings.onStopped(this);
    })();
    return this.stopping;
  }

  private async leave(consumer: Consumer): Promise<void> {
    await consumer.disconnect().catch(() => undefined);
  }

  private scheduleRestart(old: Consumer): void {
    if (this.restartTimer || this.stopped) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.rejoining = this.rejoin(old).finally(() => {
        this.rejoining = undefined;
      });
    }, this.retryDelayMs);
  }

  private async rejoin(old: Consumer): Promise<void> {
    await old.disconnect().catch(() => undefined);
    if (this.stopped) return;
    try {
      await this.start();
    } catch (error) {
      if (this.stopped) return;
      this.log.warn({ groupId: this.options.groupId, error: String(error) }, 'kafka-events: rejoin failed; retrying');
      this.scheduleRestart(this.consumer ?? old);
    }
  }

  private async eachBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary } = payload;
    const { topic, partition } = batch;
    let next: string | undefined; // offset to commit: one past the last handled message
    const commit = async () => {
      if (next === undefined) return;
      const offset = next;
      next = undefined;
      await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
    };
    try {
      for (const message of batch.messages) {
        if (!isRunning() || isStale()) break;
        try {
          await this.options.handle(toIncoming(topic, partition, message));
        } catch (error) {
          await commit();
          this.retryLater(consumer, topic, partition, message.offset, error);
          return;
        }
        resolveOffset(message.offset);
        next = (BigInt(message.offset) + 1n).toString();
        await heartbeat();
      }
      await commit();
    } catch (error) {
      // A commit or heartbeat failed (rebalance, broker gone): what was not committed is delivered again.
      await commit().catch(() => undefined);
      throw error;
    }
  }

  /** Pauses one partition and re-reads it from the failed offset after the retry delay. */
  private retryLater(consumer: Consumer, topic: string, partition: number, offset: string, error: unknown): void {
    this.log.warn(
      { groupId: this.options.groupId, topic, partition, offset, error: String(error) },
      'kafka-events: handler rejected; the partition is retried from this offset',
    );
    consumer.pause([{ topic, partitions: [partition] }]);
    consumer.seek({ topic, partition, offset });
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      if (!this.stopped) consumer.resume([{ topic, partitions: [partition] }]);
    }, this.retryDelayMs);
    this.resumeTimers.add(timer);
  }
}

function settle(entry: PendingSend, action: () => void): void {
  if (entry.settled) return;
  entry.settled = true;
  clearTimeout(entry.timer);
  if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
  action();
}

function toIncoming(topic: string, partition: number, m: KafkaMessage): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [name, raw] of Object.entries(m.headers ?? {})) {
    // A repeated header keeps its last value (Java's lastHeader()).
    const value = Array.isArray(raw) ? raw.at(-1) : raw;
    if (value !== undefined) headers[name] = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  }
  return {
    topic,
    partition,
    offset: m.offset,
    timestamp: Number(m.timestamp),
    key: m.key === null ? null : m.key.toString('utf8'),
    value: m.value ?? Buffer.alloc(0),
    headers,
  };
}

function levelOf(level: 'error' | 'warn' | 'info' | 'debug'): number {
  return { error: KafkaLogLevel.ERROR, warn: KafkaLogLevel.WARN, info: KafkaLogLevel.INFO, debug: KafkaLogLevel.DEBUG }[
    level
  ];
}

function errorChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current && chain.length < 8 && !chain.includes(current)) {
    chain.push(current);
    const e = current as { originalError?: unknown; cause?: unknown };
    current = e.originalError ?? e.cause;
  }
  return chain;
}

function messageChain(error: unknown): string {
  return errorChain(error)
    .map((e) => `${(e as { type?: string }).type ?? ''} ${(e as Error)?.message ?? String(e)}`)
    .join(' | ');
}

/**
 * Errors by which the broker refuses an idempotent producer's id, epoch or sequence numbers. kafkajs
 * takes them as final and never asks for a new producer id (the Java client does, KIP-360), so the
 * sequence it keeps stays refused: after a broker restart, a sequence ahead of what the broker kept
 * came back as OUT_OF_ORDER_SEQUENCE_NUMBER at every later send.
 */
const PRODUCER_STATE_ERRORS = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_PRODUCER_EPOCH',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_ID_MAPPING',
]);

function producerStateRefused(error: unknown): boolean {
  return errorChain(error).some((e) => PRODUCER_STATE_ERRORS.has((e as { type?: string }).type ?? ''));
}

function isUnavailable(error: unknown): boolean {
  return errorChain(error).some((e) => {
    const err = e as { name?: string; retriable?: boolean };
    return (err.name !== undefined && UNAVAILABLE_ERRORS.has(err.name)) || err.retriable === true;
  });
}

function unavailable(operation: string, cause: unknown, timeoutMs?: number, brokers?: readonly string[]): GantryError {
  const where = brokers ? ` (brokers ${brokers.join(', ')})` : '';
  const what =
    timeoutMs === undefined
      ? `the broker did not answer: ${(cause as Error)?.message ?? String(cause)}`
      : `no answer from the broker within ${timeoutMs} ms`;
  return KafkaEventsErrors.BROKER_UNAVAILABLE(`kafka-events: ${operation} failed${where}: ${what}`, {
    cause,
    details: { operation },
    headers: { 'Retry-After': '5' },
  });
}

/** kafkajs errors as coded errors; coded errors pass through. */
function classify(operation: string, error: unknown, brokers: readonly string[]): unknown {
  if (GantryError.is(error)) return error;
  if (isUnavailable(error)) return unavailable(operation, error, undefined, brokers);
  return KafkaEventsErrors.BROKER_REJECTED(`kafka-events: ${operation} refused by Kafka: ${messageChain(error)}`, {
    cause: error,
    details: { operation },
  });
}
