import { setTimeout as sleep } from 'node:timers/promises';
import { currentSignal, GantryError, RequestContext, runWithContext, type Logger } from '@gantry/core';
import type { Database, SqlEntityManager } from '@gantry/plugin-database';
import type { z, ZodType } from 'zod';
import type { KafkaEventsConfig } from './config.js';
import type { EventDriver, IncomingMessage, OutgoingMessage, Subscription } from './driver.js';
import {
  attemptsOf,
  envelopeHeaders,
  HEADERS,
  isTraceparent,
  TRACEPARENT_SLOT,
  type AttemptRecord,
  type EventEnvelope,
} from './envelope.js';
import { KafkaEventsErrors } from './errors.js';
import { OutboxRelay, OutboxStore, type OutboxStats } from './outbox.js';

/** A declared event type: its name, data schema and schema version. */
export interface EventDefinition<T = unknown> {
  readonly type: string;
  readonly version: number;
  readonly data: ZodType<T>;
}

/** Most dead letters read per type by `deadLetters` and `replay` (the oldest first). */
const DLQ_READ_LIMIT = 10_000;

const TYPE = /^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;

/** Declares an event type (`{ type: 'users.signed-up', version: 1, data: z.object({...}) }`): share the value between publisher and handlers. */
export function defineEvent<S extends ZodType>(def: {
  readonly type: string;
  readonly version: number;
  readonly data: S;
}): EventDefinition<z.output<S>> {
  if (typeof def?.type !== 'string' || !TYPE.test(def.type) || def.type.length > 200)
    throw KafkaEventsErrors.TYPE_INVALID(`event type ${JSON.stringify(def?.type)} must be lowercase dotted words`);
  if (!Number.isInteger(def.version) || def.version < 1)
    throw KafkaEventsErrors.TYPE_INVALID(`event type "${def.type}": version must be an integer >= 1`);
  if (typeof (def.data as { safeParse?: unknown })?.safeParse !== 'function')
    throw KafkaEventsErrors.TYPE_INVALID(`event type "${def.type}": data must be a zod schema`);
  return Object.freeze({ type: def.type, version: def.version, data: def.data as ZodType<z.output<S>> });
}

/** Options of {@link Events.publish}. */
export interface PublishOptions {
  /** Partition key (e.g. the aggregate id): events with the same key keep their order. */
  readonly key?: string;
  /**
   * The EntityManager whose transaction the outbox row joins. Default: the transaction of the
   * surrounding `db.transaction()`, else a write of its own.
   */
  readonly em?: SqlEntityManager;
}

/** What a handler gets besides the event. */
export interface HandlerContext {
  /** Aborts at the handler timeout or when the consumer stops. */
  readonly signal: AbortSignal;
  /** Transactional handlers: the EntityManager of the transaction that also records the event as processed. */
  readonly em: SqlEntityManager | undefined;
}

/** A typed event handler. Throwing sends the event through the retry topics, then to the DLQ. */
export type EventHandler<T> = (event: EventEnvelope<T>, ctx: HandlerContext) => Promise<void> | void;

/** Options of {@link Events.on}. */
export interface HandlerOptions {
  /** Names the handler (its consumer group is `<group>.<name>`); needed for a second handler of one type. */
  readonly name?: string;
  /**
   * Runs the handler in a database transaction that also inserts (event id, handler) into
   * `gantry_processed_event`: a redelivered event has no second effect. Needs the database plugin.
   */
  readonly transactional?: boolean;
}

/** One dead letter, as `events:dlq list` shows it. */
export interface DeadLetter {
  readonly id: string;
  readonly type: string;
  readonly handler: string;
  readonly error: string;
  readonly code: string | null;
  readonly attempts: readonly AttemptRecord[];
  readonly topic: string;
  readonly originalTopic: string;
  readonly time: string;
}

/** The events service (token `EventsToken`). */
export interface Events {
  /** Declares a type (once; declaring it again with the same version returns the first declaration). */
  define<S extends ZodType>(def: { type: string; version: number; data: S }): EventDefinition<z.output<S>>;
  /**
   * Validates `data` against the type's schema and publishes it: through the outbox (in the current
   * transaction) when the database plugin is enabled, else straight to the broker (503
   * GANTRY_KAFKA_EVENTS_BROKER_UNAVAILABLE when it does not ack). Resolves to the event id.
   */
  publish<T>(type: EventDefinition<T> | string, data: T, options?: PublishOptions): Promise<string>;
  /** Registers a handler (before the kernel starts). Data is validated before it runs; invalid records go to the DLQ. */
  on<T>(type: EventDefinition<T> | string, handler: EventHandler<T>, options?: HandlerOptions): void;
  /** Dead letters of every declared type (or one), oldest first. */
  deadLetters(type?: string): Promise<DeadLetter[]>;
  /** Re-publishes dead letters (by event id, or all when `ids` is empty) to their original topic, for their handler only. */
  replay(options: { ids?: readonly string[]; type?: string }): Promise<number>;
  /** The topic of a type. */
  topicOf(type: string): string;
  /** The broker driver. */
  readonly driver: EventDriver;
  /** The outbox relay, when the outbox is in use. */
  readonly relay: OutboxRelay | undefined;
  /** Unsent outbox rows (undefined without an outbox). */
  outboxStats(): Promise<OutboxStats | undefined>;
  /** Records not yet handled, per consumer group of this instance's handlers (retry groups included). */
  lag(): Promise<{ group: string; lag: number }[]>;
}

/** Hooks the metrics module attaches to. */
export interface EventsObserver {
  published(type: string, count: number): void;
  consumed(type: string, seconds: number): void;
  failed(type: string): void;
  retried(type: string): void;
  deadLettered(type: string): void;
}

interface HandlerEntry {
  readonly def: EventDefinition;
  readonly fn: EventHandler<unknown>;
  readonly group: string;
  readonly transactional: boolean;
  readonly seen: Map<string, true>;
}

/** What the service needs from the plugin. */
export interface EventsServiceOptions {
  readonly config: KafkaEventsConfig;
  readonly driver: EventDriver;
  readonly logger: Logger;
  readonly source: string;
  readonly group: string;
  readonly db: Database | undefined;
}

/** The {@link Events} implementation; the plugin drives `start()` and `stop()`. */
export class EventsService implements Events {
  readonly driver: EventDriver;
  readonly relay: OutboxRelay | undefined;
  private readonly store: OutboxStore | undefined;
  private readonly types = new Map<string, EventDefinition>();
  private readonly handlers: HandlerEntry[] = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly stopping = new AbortController();
  private state: 'registering' | 'started' | 'stopped' = 'registering';
  private connected = false;
  private bringUp: Promise<void> | undefined;
  observer: EventsObserver | undefined;

  constructor(private readonly options: EventsServiceOptions) {
    this.driver = options.driver;
    const { config, db } = options;
    if (db && config.outbox) {
      this.store = new OutboxStore(db);
      this.relay = config.relay.enabled
        ? new OutboxRelay({
            db,
            driver: options.driver,
            logger: options.logger,
            ...config.relay,
            pruneAfterMs: config.pruneAfterMs,
            processedRetentionMs: config.processedRetentionMs,
            onSent: (rows) => {
              for (const r of rows) this.observer?.published(r.message.headers[HEADERS.type] ?? 'unknown', 1);
            },
          })
        : undefined;
    }
  }

  define<S extends ZodType>(def: { type: string; version: number; data: S }): EventDefinition<z.output<S>> {
    const d = defineEvent(def);
    const existing = this.types.get(d.type);
    if (existing) {
      if (existing.version !== d.version || existing.data !== d.data)
        throw KafkaEventsErrors.TYPE_INVALID(
          `event type "${d.type}" is declared twice with different versions or schemas (v${existing.version} and v${d.version})`,
        );
      return existing as EventDefinition<z.output<S>>;
    }
    this.types.set(d.type, d);
    return d;
  }

  topicOf(type: string): string {
    return `${this.options.config.topicPrefix}${type}`;
  }

  async publish<T>(type: EventDefinition<T> | string, data: T, options: PublishOptions = {}): Promise<string> {
    if (this.state !== 'started')
      throw KafkaEventsErrors.NOT_STARTED(`events.publish() called while the plugin is ${this.state}`);
    const def = this.resolve(type);
    const parsed = def.data.safeParse(data);
    if (!parsed.success)
      throw KafkaEventsErrors.INVALID_EVENT(`event "${def.type}" v${def.version}: ${parsed.error.message}`, {
        details: { type: def.type, issues: parsed.error.issues },
      });
    const key = options.key ?? null;
    const headers = envelopeHeaders({ type: def.type, version: def.version, source: this.options.source, key });
    const message: OutgoingMessage = {
      topic: this.topicOf(def.type),
      key,
      value: Buffer.from(JSON.stringify(parsed.data)),
      headers,
    };
    const id = headers[HEADERS.id]!;
    if (this.store) {
      const em = options.em ?? this.store.currentTransaction() ?? this.options.db!.em();
      await this.store.insert(em, message);
      // Inside a transaction the row is not visible yet: the commit hook nudges the relay.
      if (!em.isInTransaction()) this.relay?.nudge();
      return id;
    }
    await this.sendDirect([message]);
    this.observer?.published(def.type, 1);
    return id;
  }

  on<T>(type: EventDefinition<T> | string, handler: EventHandler<T>, options: HandlerOptions = {}): void {
    if (this.state !== 'registering')
      throw KafkaEventsErrors.HANDLER_INVALID(`events.on() called after the kernel started (plugin ${this.state})`);
    if (typeof handler !== 'function')
      throw KafkaEventsErrors.HANDLER_INVALID('events.on(type, handler): handler must be a function');
    const def = typeof type === 'string' ? this.resolve(type) : this.define(type as EventDefinition);
    const name = options.name ?? def.type;
    if (!/^[A-Za-z0-9._-]+$/.test(name))
      throw KafkaEventsErrors.HANDLER_INVALID(
        `handler name ${JSON.stringify(name)} may hold only letters, digits, ".", "_" and "-"`,
      );
    const group = `${this.options.group}.${name}`;
    if (this.handlers.some((h) => h.group === group))
      throw KafkaEventsErrors.HANDLER_INVALID(
        `a handler named "${name}" is already registered; pass { name } to add another`,
      );
    if (options.transactional && !this.options.db)
      throw KafkaEventsErrors.HANDLER_INVALID(
        `handler "${name}" is transactional but the database plugin is not enabled`,
      );
    this.handlers.push({
      def,
      fn: handler as EventHandler<unknown>,
      group,
      transactional: options.transactional === true,
      seen: new Map(),
    });
  }

  /** Connects, creates topics, starts the relay and the consumers. Without the broker, an outbox app starts anyway and keeps trying. */
  async start(): Promise<void> {
    this.state = 'started';
    this.registerCommitNudge();
    this.relay?.start();
    try {
      await this.connectAndSubscribe();
    } catch (err) {
      if (!this.store) throw err;
      this.options.logger.warn(
        { err },
        'kafka-events: broker unreachable at start; publishing goes to the outbox and consumers start once it answers',
      );
      this.bringUp = this.keepTrying();
    }
  }

  /** Consumers stop (committing what they handled), the relay finishes its batch, the producer flushes. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    this.stopping.abort();
    await this.bringUp;
    await Promise.all(this.subscriptions.splice(0).map((s) => s.stop()));
    await this.relay?.stop();
    await this.driver.close();
  }

  /** True once connected to the broker. */
  isConnected(): boolean {
    return this.connected;
  }

  /** True when a publish does not need the broker (outbox). */
  hasOutbox(): boolean {
    return this.store !== undefined;
  }

  async outboxStats(): Promise<OutboxStats | undefined> {
    return this.store?.stats();
  }

  async lag(): Promise<{ group: string; lag: number }[]> {
    const out: { group: string; lag: number }[] = [];
    for (const g of this.groups()) {
      const lag = await this.driver.lag(g.group, g.topics);
      out.push({ group: g.group, lag: lag.partitions.reduce((sum, p) => sum + Math.max(0, p.lag), 0) });
    }
    return out;
  }

  /** Topics of every declared type (main, retries, DLQ). */
  topics(): string[] {
    const n = this.options.config.retry.backoffMs.length;
    return [...this.types.keys()].flatMap((type) => {
      const t = this.topicOf(type);
      return [t, ...Array.from({ length: n }, (_, i) => `${t}.retry.${i + 1}`), `${t}.dlq`];
    });
  }

  /** Consumer groups and the topics each reads (lag metrics). */
  groups(): { group: string; type: string; topics: string[] }[] {
    const n = this.options.config.retry.backoffMs.length;
    return this.handlers.flatMap((h) => {
      const t = this.topicOf(h.def.type);
      return [
        { group: h.group, type: h.def.type, topics: [t] },
        ...Array.from({ length: n }, (_, i) => ({
          group: `${h.group}.retry.${i + 1}`,
          type: h.def.type,
          topics: [`${t}.retry.${i + 1}`],
        })),
      ];
    });
  }

  async deadLetters(type?: string): Promise<DeadLetter[]> {
    const types = type === undefined ? [...this.types.keys()] : [this.resolve(type).type];
    const out: DeadLetter[] = [];
    for (const t of types) {
      const topic = `${this.topicOf(t)}.dlq`;
      for (const m of await this.driver.read(topic, { limit: DLQ_READ_LIMIT })) {
        const h = m.headers;
        out.push({
          id: h[HEADERS.id] ?? '',
          type: h[HEADERS.type] ?? t,
          handler: h[HEADERS.handler] ?? '',
          error: h[HEADERS.error] ?? '',
          code: h[HEADERS.errorCode] ?? null,
          attempts: attemptsOf(h),
          topic,
          originalTopic: h[HEADERS.originalTopic] ?? this.topicOf(t),
          time: new Date(m.timestamp).toISOString(),
        });
      }
    }
    return out.sort((a, b) => a.time.localeCompare(b.time));
  }

  async replay(options: { ids?: readonly string[]; type?: string }): Promise<number> {
    const types = options.type === undefined ? [...this.types.keys()] : [this.resolve(options.type).type];
    const wanted = options.ids && options.ids.length > 0 ? new Set(options.ids) : undefined;
    const out: OutgoingMessage[] = [];
    for (const t of types) {
      for (const m of await this.driver.read(`${this.topicOf(t)}.dlq`, { limit: DLQ_READ_LIMIT })) {
        if (wanted && !wanted.has(m.headers[HEADERS.id] ?? '')) continue;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(m.headers)) {
          if (k.startsWith('ce_') || k === HEADERS.contentType || k === HEADERS.traceparent || k === HEADERS.requestId)
            headers[k] = v;
        }
        // Only the handler that gave up gets it again: the others handled it already.
        if (m.headers[HEADERS.handler]) headers[HEADERS.handler] = m.headers[HEADERS.handler]!;
        headers[HEADERS.replayedAt] = new Date().toISOString();
        out.push({ topic: m.headers[HEADERS.originalTopic] ?? this.topicOf(t), key: m.key, value: m.value, headers });
      }
    }
    if (out.length > 0) await this.sendDirect(out);
    return out.length;
  }

  private resolve<T>(type: EventDefinition<T> | string): EventDefinition<T> {
    if (typeof type !== 'string') return this.define(type as EventDefinition) as EventDefinition<T>;
    const def = this.types.get(type);
    if (!def)
      throw KafkaEventsErrors.UNKNOWN_TYPE(
        `event type "${type}" is not declared${this.types.size ? ` (declared: ${[...this.types.keys()].join(', ')})` : ''}`,
      );
    return def as EventDefinition<T>;
  }

  private async sendDirect(messages: OutgoingMessage[]): Promise<void> {
    const signal = currentSignal();
    try {
      await this.driver.send(messages, signal ? { signal } : {});
    } catch (err) {
      if (signal?.aborted && GantryError.is(signal.reason)) throw signal.reason;
      if (KafkaEventsErrors.BROKER_UNAVAILABLE.is(err)) throw err;
      throw KafkaEventsErrors.BROKER_UNAVAILABLE(
        `the broker did not acknowledge ${messages.length} event(s): ${(err as Error)?.message ?? String(err)}`,
        { cause: err },
      );
    }
  }

  private registerCommitNudge(): void {
    if (!this.store || !this.relay) return;
    const relay = this.relay;
    try {
      // A committed transaction may hold outbox rows: poll now rather than at the next interval.
      this.options
        .db!.orm()
        .em.getEventManager()
        .registerSubscriber({ afterTransactionCommit: () => relay.nudge() });
    } catch {
      // Polling covers it.
    }
  }

  private async keepTrying(): Promise<void> {
    while (this.state === 'started') {
      await sleep(2_000, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      if (this.state !== 'started') return;
      try {
        await this.connectAndSubscribe();
        this.options.logger.info('kafka-events: broker reachable, consumers started');
        return;
      } catch {
        // Still down: the outbox keeps the events.
      }
    }
  }

  private async connectAndSubscribe(): Promise<void> {
    const { config } = this.options;
    if (!this.connected) {
      await this.driver.connect();
      await this.driver.ensureTopics(this.topics().map((topic) => ({ topic, partitions: config.partitions })));
      this.connected = true;
    }
    if (!config.consumers) return;
    const n = config.retry.backoffMs.length;
    for (const h of this.handlers) {
      const topic = this.topicOf(h.def.type);
      for (let level = this.subscribedLevels(h); level <= n; level++) {
        const sub = await this.driver.consume({
          groupId: level === 0 ? h.group : `${h.group}.retry.${level}`,
          topics: [level === 0 ? topic : `${topic}.retry.${level}`],
          from: 'earliest',
          retryDelayMs: level === 0 ? 1_000 : 50,
          handle: (m) => this.handle(h, level, m),
        });
        this.subscriptions.push(sub);
        this.levels.set(h, level + 1);
      }
    }
  }

  private readonly levels = new Map<HandlerEntry, number>();

  private subscribedLevels(h: HandlerEntry): number {
    return this.levels.get(h) ?? 0;
  }

  /** The router: one record for one handler, through its middleware (filter, delay, validation, context, dedupe, timeout, retry). */
  private async handle(h: HandlerEntry, level: number, m: IncomingMessage): Promise<void> {
    const headers = m.headers;
    const target = headers[HEADERS.handler];
    if (target !== undefined && target !== h.group) return;
    if (level > 0) await this.untilDue(Number(headers[HEADERS.retryAt] ?? 0));
    const type = headers[HEADERS.type];
    if (type !== h.def.type) return;
    const id = headers[HEADERS.id] ?? `${m.topic}-${m.partition}-${m.offset}`;
    const { config, logger } = this.options;
    const history = attemptsOf(headers);

    let data: unknown;
    let invalid: string | undefined;
    try {
      const parsed = h.def.data.safeParse(JSON.parse(m.value.toString('utf8')));
      if (parsed.success) data = parsed.data;
      else invalid = parsed.error.message;
    } catch (err) {
      invalid = `the value is not JSON: ${(err as Error).message}`;
    }
    if (invalid !== undefined) {
      const error = KafkaEventsErrors.INVALID_EVENT(`event ${id} (${h.def.type}) failed validation: ${invalid}`);
      logger.error({ eventId: id, type: h.def.type, handler: h.group, err: error }, 'invalid event sent to the DLQ');
      await this.forward(h, m, [...history, attempt(error)], 'dlq');
      return;
    }
    if (config.dedupe && h.seen.has(id)) return;

    const envelope: EventEnvelope = {
      id,
      type: h.def.type,
      source: headers[HEADERS.source] ?? '',
      time: headers[HEADERS.time] ?? new Date(m.timestamp).toISOString(),
      subject: headers[HEADERS.subject] ?? null,
      version: Number(headers[HEADERS.schemaVersion] ?? h.def.version),
      data,
      key: m.key,
      requestId: headers[HEADERS.requestId] ?? null,
      traceparent: headers[HEADERS.traceparent] ?? null,
      attempt: history.length + 1,
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
    };
    const started = performance.now();
    try {
      await this.invoke(h, envelope);
    } catch (err) {
      this.observer?.failed(h.def.type);
      const all = [...history, attempt(err)];
      const retry = all.length <= config.retry.backoffMs.length;
      logger.warn(
        { eventId: id, type: h.def.type, handler: h.group, attempt: all.length, err },
        retry ? `event handler failed, retry ${all.length} scheduled` : 'event handler failed, sent to the DLQ',
      );
      await this.forward(h, m, all, retry ? all.length : 'dlq');
      return;
    }
    this.observer?.consumed(h.def.type, (performance.now() - started) / 1_000);
    if (config.dedupe) {
      h.seen.set(id, true);
      if (h.seen.size > config.dedupeWindow) h.seen.delete(h.seen.keys().next().value!);
    }
  }

  private async invoke(h: HandlerEntry, event: EventEnvelope): Promise<void> {
    const { config, logger } = this.options;
    const ctx = new RequestContext(event.requestId ?? event.id, Date.now() + config.handlerTimeoutMs, logger);
    if (isTraceparent(event.traceparent ?? undefined)) ctx.set(TRACEPARENT_SLOT, event.traceparent);
    const onStop = (): void => ctx.cancel(KafkaEventsErrors.HANDLER_TIMEOUT('the consumer is stopping'));
    this.stopping.signal.addEventListener('abort', onStop, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = KafkaEventsErrors.HANDLER_TIMEOUT(
          `handler ${h.group} did not finish event ${event.id} within ${config.handlerTimeoutMs} ms`,
        );
        ctx.cancel(err);
        reject(err);
      }, config.handlerTimeoutMs);
    });
    try {
      await Promise.race([
        runWithContext(ctx, async () => {
          if (!h.transactional) return h.fn(event, { signal: ctx.signal, em: undefined });
          const db = this.options.db!;
          const store = this.store ?? new OutboxStore(db);
          await db.transaction(async (em) => {
            if (!(await store.markProcessed(em, event.id, h.group))) return;
            await h.fn(event, { signal: ctx.signal, em });
          });
        }),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
      ctx.release();
      this.stopping.signal.removeEventListener('abort', onStop);
    }
  }

  /** Sends the record to its next retry topic or to the DLQ with the attempt history; rejects when the broker does not ack (the record is read again). */
  private async forward(
    h: HandlerEntry,
    m: IncomingMessage,
    history: AttemptRecord[],
    to: number | 'dlq',
  ): Promise<void> {
    const { retry } = this.options.config;
    const original = m.headers[HEADERS.originalTopic] ?? m.topic;
    const last = history.at(-1)!;
    const headers: Record<string, string> = {
      ...m.headers,
      [HEADERS.originalTopic]: original,
      [HEADERS.handler]: h.group,
      [HEADERS.attempts]: JSON.stringify(history),
      [HEADERS.error]: last.error,
      ...(last.code ? { [HEADERS.errorCode]: last.code } : {}),
    };
    delete headers[HEADERS.replayedAt];
    if (to === 'dlq') {
      delete headers[HEADERS.retryAt];
    } else {
      const base = retry.backoffMs[to - 1] ?? 0;
      const spread = base * retry.jitter * (Math.random() * 2 - 1);
      headers[HEADERS.retryAt] = String(Date.now() + Math.max(0, Math.round(base + spread)));
    }
    const topic = to === 'dlq' ? `${original}.dlq` : `${original}.retry.${to}`;
    await this.driver.send([{ topic, key: m.key, value: m.value, headers }]);
    if (to === 'dlq') this.observer?.deadLettered(h.def.type);
    else this.observer?.retried(h.def.type);
  }

  private async untilDue(due: number): Promise<void> {
    const wait = due - Date.now();
    if (wait <= 0) return;
    // Short waits in place; a long one is cut so a Kafka consumer keeps heartbeating: the rejection
    // makes the driver read the record again shortly.
    await sleep(Math.min(wait, 2_000), undefined, { signal: this.stopping.signal });
    if (due > Date.now()) throw KafkaEventsErrors.HANDLER_TIMEOUT('retry not due yet');
  }
}

function attempt(err: unknown): AttemptRecord {
  const message = (err as Error)?.message ?? String(err);
  const code = GantryError.is(err) ? err.code : (err as { code?: unknown })?.code;
  return {
    at: new Date().toISOString(),
    error: message.slice(0, 1_000),
    ...(typeof code === 'string' ? { code } : {}),
  };
}
