/**
 * The broker behind kafka-events, as the plugin sees it: topics split into partitions by key, consumer
 * groups with committed offsets, and an acknowledged send. Two implementations: the in-process broker
 * (embedded profile) and Kafka through kafkajs (compose profile). Everything above this line (envelope,
 * validation, outbox and relay, retry topics, dead letters, dedupe, metrics) is shared, so both drivers
 * have the same semantics.
 */

/** One record as written to a topic. `value` is the JSON body (CloudEvents binary mode: data only). */
export interface OutgoingMessage {
  readonly topic: string;
  /** Sets the partition (same key, same partition, order kept). `null`: any partition. */
  readonly key: string | null;
  readonly value: Buffer;
  /** CloudEvents `ce_*` attributes, `traceparent`, `x-request-id`, retry bookkeeping. */
  readonly headers: Readonly<Record<string, string>>;
}

/** One record as read from a topic. */
export interface IncomingMessage extends OutgoingMessage {
  readonly partition: number;
  /** Kafka offset as a decimal string (int64). */
  readonly offset: string;
  /** Broker append time, ms since the epoch. */
  readonly timestamp: number;
}

export interface SendOptions {
  /** Aborts the wait for the acknowledgement (the request deadline); what was sent may still land. */
  readonly signal?: AbortSignal;
  /**
   * The messages are a batch already (the outbox relay's): they go out without waiting for the
   * producer's linger (still behind a request in flight, in order).
   */
  readonly batched?: boolean;
}

export interface ConsumeOptions {
  /** Consumer group: each message is handled by one member of the group. */
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group without a committed offset starts. Default: `earliest`. */
  readonly from?: 'earliest' | 'latest';
  /**
   * Called for each message, in order per partition. Resolves: the offset is committed (at least once).
   * Rejects: the message is NOT committed and the partition is retried from it after `retryDelayMs`
   * (the router above turns handler failures into retry-topic records and resolves, so a rejection
   * here only happens when that forwarding itself failed, e.g. the broker is down).
   */
  readonly handle: (message: IncomingMessage) => Promise<void>;
  /** Wait before re-reading a partition whose handler rejected. Default 1000 ms. */
  readonly retryDelayMs?: number;
}

export interface Subscription {
  /** Stops fetching, lets in-flight handlers finish, commits, leaves the group. */
  stop(): Promise<void>;
}

/** Lag of a group: per topic-partition, the high watermark minus the committed offset. */
export interface GroupLag {
  readonly groupId: string;
  readonly partitions: ReadonlyArray<{ topic: string; partition: number; lag: number }>;
}

export interface EventDriver {
  /** `memory` or `kafka`, for logs and metrics. */
  readonly name: string;
  /** Connects the producer (and admin); rejects with a clear error when the broker cannot be reached. */
  connect(): Promise<void>;
  /** Creates topics that do not exist yet (idempotent). */
  ensureTopics(topics: ReadonlyArray<{ topic: string; partitions?: number }>): Promise<void>;
  /**
   * Sends a batch; resolves once the broker acknowledged every record (acks=all, idempotent producer).
   * Records with the same key keep their relative order.
   */
  send(messages: readonly OutgoingMessage[], options?: SendOptions): Promise<void>;
  /** Joins a consumer group and starts handling messages. */
  consume(options: ConsumeOptions): Promise<Subscription>;
  /**
   * Reads a topic from the beginning without joining a group (DLQ inspection): at most `limit`
   * records, stopping at the end of the topic as it was when the call started.
   */
  read(topic: string, options?: { limit?: number }): Promise<IncomingMessage[]>;
  /** Lag of a consumer group, for metrics. */
  lag(groupId: string, topics: readonly string[]): Promise<GroupLag>;
  /** Readiness: resolves when the broker answers a metadata request within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  /** Flushes the producer and disconnects everything (subscriptions first). */
  close(): Promise<void>;
}
