import type { Logger } from '@gantry/core';
import { Redis } from 'ioredis';
import { RedisErrors } from './errors.js';
import { type InvalidationListener, type KeyWatch, RedisKeyWatch } from './key-watch.js';

/** What {@link RedisConnection} needs. */
export interface RedisConnectionOptions {
  readonly url: string;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly logger: Logger;
}

/** Outcome of a {@link RedisConnection.ping}. */
export interface PingResult {
  readonly ok: boolean;
  /** Error code (ECONNREFUSED, ETIMEDOUT, NOT_CONNECTED...) when not ok: never the message, which may name hosts. */
  readonly code?: string;
}

/**
 * The one ioredis client a kernel shares between its plugins (token store, rate limits, sessions).
 * Created and connected in `open()` (the start hook), never at register. Commands fail at once while
 * disconnected (no offline queue): a request must not hang waiting for a reconnect; it gets a 503.
 * ioredis keeps reconnecting in the background, so every user recovers without a restart.
 */
export class RedisConnection {
  private redis: Redis | undefined;
  private failing = false;
  private closing = false;
  /** Code of the last connection error (ECONNREFUSED...): more telling than "not connected" in /readyz. */
  private lastCode: string | undefined;

  /** The connection in subscriber mode (a Redis connection that subscribes can run nothing else), opened at the first subscribe(). */
  private subscriber: Redis | undefined;
  /** Settles when the subscriber's first connection attempt does (connected, or failed and retrying). */
  private subscriberReady: Promise<unknown> = Promise.resolve();
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  /** Open key watches, closed with this connection. */
  private readonly watches = new Set<RedisKeyWatch>();

  constructor(private readonly options: RedisConnectionOptions) {}

  /** Longest wait for one command (option `commandTimeoutMs`): what a user's own health check may wait for a ping. */
  get commandTimeoutMs(): number {
    return this.options.commandTimeoutMs;
  }

  /** Connects. An unreachable Redis does not fail the boot: it is logged, reported by readiness and retried. */
  async open(): Promise<void> {
    this.closing = false;
    const client = new Redis(this.options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: this.options.commandTimeoutMs,
      connectTimeout: this.options.connectTimeoutMs,
      maxRetriesPerRequest: 1,
      // disconnect() ends the socket and arms a timer that destroys it if it does not close. At the
      // default 2 s, that timer outlives stop() when Redis is unreachable, and a server that accepts but
      // never answers holds each connection attempt (and so the start hook) that long.
      disconnectTimeout: 200,
      // 50 ms more per attempt, at most 2 s, never giving up: recovery needs no restart.
      retryStrategy: (attempt) => Math.min(attempt * 50, 2_000),
    });
    // Without an 'error' listener ioredis prints every failed reconnect to stderr.
    client.on('error', (err: NodeJS.ErrnoException) => this.failed(err));
    client.on('close', () => {
      if (!this.closing) this.failed(undefined);
    });
    client.on('ready', () => this.succeeded());
    this.redis = client;
    try {
      await client.connect();
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
    }
  }

  /** The ioredis client; throws 503 GANTRY_REDIS_UNAVAILABLE before start or after stop. */
  client(): Redis {
    if (!this.redis)
      throw RedisErrors.UNAVAILABLE('the Redis client is not started (or already stopped)', {
        details: { code: 'NOT_CONNECTED' },
        headers: { 'Retry-After': '1' },
      });
    return this.redis;
  }

  /**
   * Runs commands; any failure (disconnected, timeout, server error) becomes 503 GANTRY_REDIS_UNAVAILABLE
   * with Retry-After, and the outage is logged once.
   */
  async run<T>(command: (client: Redis) => Promise<T>): Promise<T> {
    const client = this.client();
    try {
      const out = await command(client);
      this.succeeded();
      return out;
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
      throw RedisErrors.UNAVAILABLE('Redis did not answer the command', {
        cause: err,
        details: { code: errorCode(err as NodeJS.ErrnoException) },
        headers: { 'Retry-After': '1' },
      });
    }
  }

  /**
   * Sends one raw command (what rate-limit-redis needs) and returns the raw reply. Errors are passed on
   * as ioredis raised them (callers such as rate-limit-redis read `NOSCRIPT` replies), except before
   * start / after stop: 503 GANTRY_REDIS_UNAVAILABLE. Rejects at once while disconnected.
   */
  async call(command: string, args: readonly string[]): Promise<unknown> {
    const client = this.client();
    try {
      const out = await client.call(command, ...args);
      this.succeeded();
      return out;
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
      throw err;
    }
  }

  /** Publishes a message on a pub/sub channel; like run(), a failure is 503 GANTRY_REDIS_UNAVAILABLE. Returns how many subscribers got it. */
  async publish(channel: string, message: string): Promise<number> {
    return this.run((c) => c.publish(channel, message));
  }

  /**
   * Calls `listener` with every message published on `channel` (by any instance, this one included)
   * until the returned function is called. The subscriptions share one extra connection, opened at the
   * first call and closed with this one; after a reconnect it subscribes again. Pub/sub does not queue:
   * a message published while this instance is cut off is lost, so use it to shorten a cache's life,
   * not as the only way a change arrives. Resolves once subscribed, or at once while Redis is down.
   */
  async subscribe(channel: string, listener: (message: string) => void): Promise<() => Promise<void>> {
    const subscriber = this.subscriberConnection();
    let listeners = this.channels.get(channel);
    const fresh = listeners === undefined;
    if (!listeners) {
      listeners = new Set();
      this.channels.set(channel, listeners);
    }
    listeners.add(listener);
    const own = listeners;
    await this.subscriberReady;
    // While Redis is down, the next 'ready' subscribes to it.
    if (fresh && subscriber.status === 'ready') await subscriber.subscribe(channel).catch(() => undefined);
    return async () => {
      if (!own.delete(listener) || own.size > 0 || this.channels.get(channel) !== own) return;
      this.channels.delete(channel);
      if (this.subscriber?.status === 'ready') await this.subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }

  private subscriberConnection(): Redis {
    if (this.subscriber) return this.subscriber;
    // Same server and limits as the main client; its failures show through the main client's state.
    const subscriber = this.client().duplicate({ lazyConnect: true, autoResubscribe: false });
    subscriber.on('error', () => undefined);
    // Every (re)connection subscribes to the channels wanted now: ioredis's own resubscription only
    // knows channels that were subscribed before, not those added while Redis was down.
    subscriber.on('ready', () => {
      if (this.channels.size > 0) subscriber.subscribe(...this.channels.keys()).catch(() => undefined);
    });
    subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.channels.get(channel) ?? []) {
        try {
          listener(message);
        } catch (err) {
          this.options.logger.error({ err, channel }, 'a Redis message listener threw');
        }
      }
    });
    this.subscriber = subscriber;
    this.subscriberReady = subscriber.connect().catch(() => undefined);
    return subscriber;
  }

  /**
   * Has Redis push the changes of every key under `prefixes` to `listener` (server-assisted client-side
   * caching, {@link RedisKeyWatch}): what lets a plugin keep values it read from Redis in memory and still
   * see another instance's change as soon as Redis reports it. Each watch has a connection of its own,
   * closed by the returned watch's `close()` or with this connection. Resolves once the watch is armed,
   * refused by the server, or Redis is down (it arms at the next reconnection then).
   */
  async watchKeys(prefixes: readonly string[], listener: InvalidationListener): Promise<KeyWatch> {
    if (prefixes.length === 0) throw new TypeError('watchKeys needs at least one prefix');
    const client = this.client().duplicate({ lazyConnect: true, autoResubscribe: false });
    const watch = new RedisKeyWatch(client, prefixes, listener, this.options.logger, () => this.watches.delete(watch));
    this.watches.add(watch);
    await watch.open();
    return watch;
  }

  /** True while the last command or connection attempt failed. */
  isFailing(): boolean {
    return this.failing;
  }

  /** Records a failure: the first after a success is logged, the rest are not (one line per outage). */
  private failed(err: NodeJS.ErrnoException | undefined): void {
    // A reply error (NOSCRIPT, WRONGTYPE...) means Redis answered: the connection is not failing.
    if (this.closing || err?.name === 'ReplyError') return;
    const code = errorCode(err);
    if (err !== undefined && code !== 'NOT_CONNECTED') this.lastCode = code;
    if (this.failing) return;
    this.failing = true;
    this.options.logger.warn(
      { code },
      'Redis unavailable: the plugins that keep state in it answer 503 (or fail open where configured) until it is back',
    );
  }

  /** Records a success (cheap: called on every command). */
  private succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    this.lastCode = undefined;
    this.options.logger.info('Redis available again');
  }

  /** PING, bounded by the command timeout. */
  async ping(): Promise<PingResult> {
    const client = this.redis;
    if (!client) return { ok: false, code: 'NOT_CONNECTED' };
    try {
      await client.ping();
      this.succeeded();
      return { ok: true };
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
      const code = errorCode(err as NodeJS.ErrnoException);
      return { ok: false, code: code === 'NOT_CONNECTED' ? (this.lastCode ?? code) : code };
    }
  }

  /** QUIT when connected (lets in-flight commands finish), else stops reconnecting at once. */
  async close(): Promise<void> {
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.channels.clear();
    // Subscriber mode answers only (P)(UN)SUBSCRIBE, PING and QUIT: no need to wait for anything.
    subscriber?.disconnect();
    for (const watch of [...this.watches]) await watch.close();
    const client = this.redis;
    if (!client) return;
    this.closing = true;
    this.redis = undefined;
    if (client.status === 'ready') {
      try {
        await client.quit();
        return;
      } catch {
        // The connection dropped during QUIT: disconnect below stops the reconnect loop.
      }
    }
    client.disconnect();
  }
}

/** A short, host-free code for logs and /readyz. */
function errorCode(err: NodeJS.ErrnoException | undefined): string {
  if (!err) return 'CONNECTION_CLOSED';
  if (typeof err.code === 'string') return err.code;
  const message = String(err.message ?? '');
  // A reply error starts with its kind (NOSCRIPT, LOADING, READONLY...), which names no host.
  if (err.name === 'ReplyError') return /^[A-Z]+\b/.exec(message)?.[0] ?? 'REPLY_ERROR';
  // A command in flight when the connection dropped: the code of the drop itself comes from the 'error' event.
  if (err.name === 'MaxRetriesPerRequestError') return 'NOT_CONNECTED';
  if (/timed out/i.test(message)) return 'TIMEOUT';
  if (/writeable|closed|enableOfflineQueue|not started/i.test(message)) return 'NOT_CONNECTED';
  return 'REDIS_ERROR';
}
