import net from 'node:net';
import type { Logger } from '@gantry/core';
import type { ElkLoggerConfig } from './config.js';
import { ElkLoggerErrors } from './errors.js';
import { BoundedQueue } from './queue.js';

/** Counters of one shipping transport. */
export interface TransportStats {
  readonly enabled: boolean;
  /** Logstash: the TCP connection is up. Elasticsearch: no request failed since the last success. */
  readonly connected: boolean;
  /** Lines waiting in the buffer. */
  readonly buffered: number;
  /** Lines handed to the socket (Logstash) or accepted by _bulk (Elasticsearch). */
  readonly shipped: number;
  /** Lines dropped because the buffer was full (the oldest go first). */
  readonly dropped: number;
  /** Lines refused for good (Elasticsearch answered 4xx for them). */
  readonly failed: number;
  /** Failed attempts: connections refused or lost, _bulk requests that failed. */
  readonly errors: number;
  readonly lastError?: string;
  readonly lastErrorAt?: string;
}

/** What elk-logger ships, per transport. */
export interface ElkShipping {
  stats(): { readonly logstash: TransportStats; readonly elasticsearch: TransportStats };
  /** Sends what is buffered now, waiting at most `timeoutMs` (default 5 s). */
  flush(timeoutMs?: number): Promise<void>;
}

interface Backoff {
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** Exponential backoff with full jitter in [delay/2, delay]. */
function backoffDelay(options: Backoff, attempt: number): number {
  const ceiling = Math.min(options.maxBackoffMs, options.minBackoffMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

abstract class Shipper<T> {
  protected readonly queue: BoundedQueue<T>;
  protected shipped = 0;
  protected dropped = 0;
  protected failed = 0;
  protected errors = 0;
  protected lastError: string | undefined;
  protected lastErrorAt: string | undefined;
  protected opened = false;
  protected closed = false;
  private reported = 0;

  constructor(
    capacity: number,
    protected readonly fallback: Logger,
    protected readonly name: string,
  ) {
    this.queue = new BoundedQueue<T>(capacity);
  }

  protected abstract get connected(): boolean;

  stats(): TransportStats {
    return {
      enabled: true,
      connected: this.connected,
      buffered: this.queue.size,
      shipped: this.shipped,
      dropped: this.dropped,
      failed: this.failed,
      errors: this.errors,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError, lastErrorAt: this.lastErrorAt }),
    };
  }

  /**
   * Records a failure; tells the fallback logger (never this logger: no loop) on the first failure and
   * then at most once a minute, so an outage does not flood stdout.
   */
  protected failure(message: string): void {
    this.errors++;
    this.lastError = message;
    this.lastErrorAt = new Date().toISOString();
    const now = Date.now();
    if (now - this.reported < 60_000) return;
    this.reported = now;
    this.fallback.warn(
      {
        code: ElkLoggerErrors.SHIP_FAILED.code,
        transport: this.name,
        buffered: this.queue.size,
        dropped: this.dropped,
      },
      `elk-logger: ${this.name}: ${message}; lines are buffered (oldest dropped past the bound). Fix: ${ElkLoggerErrors.SHIP_FAILED.spec.fix}`,
    );
  }
}

/**
 * Logstash's tcp input with codec json_lines: one JSON document per line over a plain TCP connection.
 * Lines are queued (bounded, oldest dropped) and written when the socket takes them; the connection is
 * re-opened with backoff after any error. A line handed to a socket that then breaks can be lost: TCP
 * has no application acknowledgement, and json_lines has none either.
 */
export class LogstashShipper extends Shipper<string> {
  private socket: net.Socket | undefined;
  private up = false;
  private connecting = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private waitingDrain = false;

  constructor(
    private readonly options: ElkLoggerConfig['logstash'],
    fallback: Logger,
  ) {
    super(options.bufferSize, fallback, 'logstash');
  }

  protected get connected(): boolean {
    return this.up;
  }

  enqueue(line: string): void {
    this.dropped += this.queue.push(line);
    if (this.up && !this.scheduled && !this.waitingDrain) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.drain();
      });
    }
  }

  open(): void {
    if (this.opened || this.closed) return;
    this.opened = true;
    this.connect();
  }

  private connect(): void {
    this.timer = undefined;
    if (this.closed) return;
    const socket = net.createConnection({ host: this.options.host, port: this.options.port });
    this.socket = socket;
    this.connecting = true;
    socket.setNoDelay(true);
    socket.setTimeout(this.options.connectTimeoutMs, () => {
      if (!this.up) socket.destroy(new Error(`no connection within ${this.options.connectTimeoutMs} ms`));
    });
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.setKeepAlive(true, 10_000);
      this.connecting = false;
      this.up = true;
      this.attempt = 0;
      this.drain();
    });
    socket.on('error', (err) => {
      this.failure(`${this.options.host}:${this.options.port}: ${err.message}`);
    });
    socket.once('close', () => {
      this.up = false;
      this.connecting = false;
      this.waitingDrain = false;
      if (this.socket === socket) this.socket = undefined;
      if (!this.closed) this.reconnectLater();
    });
    // The peer half-closed (Logstash stopping): close our side too, then reconnect.
    socket.once('end', () => socket.destroy());
  }

  private reconnectLater(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => this.connect(), backoffDelay(this.options, this.attempt++));
    this.timer.unref();
  }

  private drain(): void {
    const socket = this.socket;
    while (this.up && socket && this.queue.size > 0) {
      const batch = this.queue.take(512);
      this.shipped += batch.length;
      if (!socket.write(`${batch.join('\n')}\n`)) {
        this.waitingDrain = true;
        socket.once('drain', () => {
          this.waitingDrain = false;
          this.drain();
        });
        return;
      }
    }
  }

  /**
   * Waits (at most `timeoutMs`) until what is buffered is handed to the socket and written out, while
   * connected or connecting; a transport waiting to reconnect keeps its buffer and returns at once.
   */
  async flush(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    this.drain();
    while (
      Date.now() < until &&
      (this.up || this.connecting) &&
      (this.queue.size > 0 || (this.socket?.writableLength ?? 0) > 0)
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Sends what it can within the deadline, then closes the connection. */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const socket = this.socket;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      const done = setTimeout(() => socket.destroy(), 1_000);
      socket.once('close', () => {
        clearTimeout(done);
        resolve();
      });
      socket.end();
    });
  }
}

/** One line for the _bulk API: where it goes and the document. */
export interface BulkDoc {
  readonly audit: boolean;
  readonly line: string;
}

const DAY_MS = 86_400_000;

/**
 * Direct indexing with the _bulk API over plain HTTP (fetch): the same request on Elasticsearch 7, 8
 * and OpenSearch, so no client library and none of their version checks. Batched by size and interval,
 * one request in flight, bounded buffer (oldest dropped), retries with backoff on network errors,
 * 429 and 5xx; documents refused with a 4xx are counted as failed and not retried.
 */
export class ElasticsearchShipper extends Shipper<BulkDoc> {
  private interval: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private attempt = 0;
  private ok = true;
  private templateOk = false;
  private templating: Promise<void> | undefined;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private day = { until: 0, suffix: '' };

  constructor(
    private readonly options: ElkLoggerConfig['elasticsearch'],
    fallback: Logger,
  ) {
    super(options.bufferSize, fallback, 'elasticsearch');
    this.base = options.url.replace(/\/+$/, '');
    this.headers = { 'content-type': 'application/x-ndjson', accept: 'application/json' };
    if (options.apiKey) this.headers.authorization = `ApiKey ${options.apiKey}`;
    else if (options.username !== undefined)
      this.headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
    this.templateOk = !options.installTemplate;
  }

  protected get connected(): boolean {
    return this.ok;
  }

  enqueue(doc: BulkDoc): void {
    this.dropped += this.queue.push(doc);
    if (this.opened && this.queue.size >= this.options.batchSize) this.kick();
  }

  open(): void {
    if (this.opened || this.closed) return;
    this.opened = true;
    this.interval = setInterval(() => this.kick(), this.options.flushIntervalMs);
    this.interval.unref();
    // A failure here is reported by the first bulk, which installs the template before sending.
    if (!this.templateOk) void this.ensureTemplate().catch(() => undefined);
    this.kick();
  }

  /** The index (daily naming) or data stream a line goes to. */
  target(audit: boolean): string {
    const o = this.options;
    if (o.naming === 'data-stream') return audit ? o.auditDataStream : o.dataStream;
    const now = Date.now();
    if (now >= this.day.until) {
      const d = new Date(now);
      const suffix = `${d.getUTCFullYear()}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${String(d.getUTCDate()).padStart(2, '0')}`;
      this.day = { until: Math.floor(now / DAY_MS) * DAY_MS + DAY_MS, suffix };
    }
    return `${audit ? o.auditIndexPrefix : o.indexPrefix}-${this.day.suffix}`;
  }

  /** The composable index template (ES 7.8+, OpenSearch): ECS keyword fields, one shard. */
  templateBody(): Record<string, unknown> {
    const o = this.options;
    const keyword = { type: 'keyword', ignore_above: 1024 };
    const mappings = {
      dynamic_templates: [{ strings_as_keywords: { match_mapping_type: 'string', mapping: keyword } }],
      properties: {
        '@timestamp': { type: 'date' },
        message: { type: 'text' },
        ecs: { properties: { version: keyword } },
        log: { properties: { level: keyword, logger: keyword } },
        service: { properties: { name: keyword, environment: keyword } },
        event: { properties: { dataset: keyword, duration: { type: 'long' } } },
        trace: { properties: { id: keyword } },
        user: { properties: { id: keyword } },
        url: { properties: { path: keyword } },
        http: {
          properties: {
            request: { properties: { id: keyword, method: keyword } },
            response: { properties: { status_code: { type: 'long' } } },
          },
        },
      },
    };
    const settings = { 'index.number_of_shards': 1, 'index.mapping.ignore_malformed': true };
    if (o.naming === 'data-stream') {
      return {
        index_patterns: [o.dataStream, o.auditDataStream],
        data_stream: {},
        priority: 200,
        template: { settings, mappings },
        _meta: { managed_by: 'gantry elk-logger' },
      };
    }
    return {
      index_patterns: [`${o.indexPrefix}-*`, `${o.auditIndexPrefix}-*`],
      priority: 200,
      template: { settings, mappings },
      _meta: { managed_by: 'gantry elk-logger' },
    };
  }

  /** The template's name: the index prefix (daily) or the data stream name. */
  templateName(): string {
    return this.options.naming === 'data-stream' ? `${this.options.dataStream}-template` : this.options.indexPrefix;
  }

  /** One template request at a time (open() and the first bulk both ask for it). */
  private ensureTemplate(): Promise<void> {
    this.templating ??= this.installTemplate().finally(() => {
      this.templating = undefined;
    });
    return this.templating;
  }

  private async installTemplate(): Promise<void> {
    const res = await fetch(`${this.base}/_index_template/${this.templateName()}`, {
      method: 'PUT',
      headers: { ...this.headers, 'content-type': 'application/json' },
      body: JSON.stringify(this.templateBody()),
      signal: AbortSignal.timeout(this.options.requestTimeoutMs),
    });
    if (!res.ok) {
      const text = (await res.text()).slice(0, 300);
      throw ElkLoggerErrors.TEMPLATE_FAILED(
        `PUT _index_template/${this.templateName()} answered ${res.status}: ${text}`,
      );
    }
    await res.arrayBuffer().catch(() => undefined);
    this.templateOk = true;
  }

  /** Starts a bulk request unless one is in flight or a retry is pending. */
  private kick(): void {
    if (!this.opened || this.closed || this.inFlight || this.retryTimer || this.queue.size === 0) return;
    this.inFlight = this.send().finally(() => {
      this.inFlight = undefined;
      if (this.queue.size >= this.options.batchSize && !this.closed) this.kick();
    });
  }

  private async send(): Promise<void> {
    const batch = this.queue.take(this.options.batchSize);
    try {
      if (!this.templateOk) await this.ensureTemplate();
      const action = this.options.naming === 'data-stream' ? 'create' : 'index';
      let body = '';
      const targets = { main: this.target(false), audit: this.target(true) };
      for (const doc of batch)
        body += `{"${action}":{"_index":"${doc.audit ? targets.audit : targets.main}"}}\n${doc.line}\n`;
      const res = await fetch(`${this.base}/_bulk`, {
        method: 'POST',
        headers: this.headers,
        body,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs),
      });
      if (res.status === 429 || res.status >= 500) {
        await res.arrayBuffer().catch(() => undefined);
        throw new Error(`_bulk answered ${res.status}`);
      }
      if (!res.ok) {
        const text = (await res.text()).slice(0, 300);
        this.failed += batch.length;
        this.ok = false;
        this.failure(`_bulk answered ${res.status}: ${text}`);
        return;
      }
      const json = (await res.json()) as {
        errors?: boolean;
        items?: Record<string, { status?: number; error?: { reason?: string } }>[];
      };
      let refused = 0;
      let reason: string | undefined;
      if (json.errors) {
        for (const item of json.items ?? []) {
          const r = Object.values(item)[0];
          if (r && (r.status ?? 200) >= 300) {
            refused++;
            reason ??= r.error?.reason;
          }
        }
      }
      this.shipped += batch.length - refused;
      this.failed += refused;
      this.ok = true;
      this.attempt = 0;
      if (refused > 0) this.failure(`_bulk refused ${refused} of ${batch.length} lines: ${reason ?? 'unknown reason'}`);
    } catch (err) {
      this.ok = false;
      this.dropped += this.queue.requeue(batch);
      this.failure(`${this.base}: ${(err as Error).message}`);
      if (!this.closed) {
        this.retryTimer = setTimeout(
          () => {
            this.retryTimer = undefined;
            this.kick();
          },
          backoffDelay(this.options, this.attempt++),
        );
        this.retryTimer.unref();
      }
    }
  }

  async flush(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && this.opened && (this.queue.size > 0 || this.inFlight)) {
      if (this.retryTimer) return; // failing now: what is buffered stays buffered
      this.kick();
      if (this.inFlight !== undefined)
        await Promise.race([this.inFlight, new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())).unref())]);
    }
  }

  /** Sends what it can within the deadline, then stops its timers. */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    await this.flush(timeoutMs);
    this.closed = true;
    if (this.interval) clearInterval(this.interval);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.interval = undefined;
    this.retryTimer = undefined;
    if (this.inFlight !== undefined)
      await Promise.race([this.inFlight, new Promise((r) => setTimeout(r, 1_000).unref())]);
  }
}

/** Stats of a transport that is not enabled. */
export const DISABLED: TransportStats = Object.freeze({
  enabled: false,
  connected: false,
  buffered: 0,
  shipped: 0,
  dropped: 0,
  failed: 0,
  errors: 0,
});
