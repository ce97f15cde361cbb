import type { Logger } from '@gantry/core';
import { Redis } from 'ioredis';
import { RateLimitErrors } from './errors.js';

/** Longest wait for the TCP connection to Redis (also bounds the start hook when Redis is unreachable). */
export const CONNECT_TIMEOUT_MS = 3_000;

/** What {@link RedisConnection} needs. */
export interface RedisConnectionOptions {
  readonly url: string;
  readonly commandTimeoutMs: number;
  readonly logger: Logger;
}

/** Outcome of a {@link RedisConnection.ping}. */
export interface PingResult {
  readonly ok: boolean;
  /** Error code (ECONNREFUSED, ETIMEDOUT, NOT_CONNECTED...) when not ok: never the message, which may name hosts. */
  readonly code?: string;
}

/**
 * The one ioredis client shared by every limiter of a kernel. Created and connected in `open()`
 * (the start hook), never at register. Commands fail at once while disconnected (no offline queue):
 * a rate-limit check must not wait for a reconnect, it fails open or closed per policy instead.
 * ioredis keeps reconnecting in the background, so the store recovers without a restart.
 */
export class RedisConnection {
  private client: Redis | undefined;
  private failing = false;
  private closing = false;
  /** Code of the last connection error (ECONNREFUSED...): more telling than "not connected" in /readyz. */
  private lastCode: string | undefined;

  constructor(private readonly options: RedisConnectionOptions) {}

  /** Connects. An unreachable Redis does not fail the boot: it is logged, reported by readiness and retried. */
  async open(): Promise<void> {
    this.closing = false;
    const client = new Redis(this.options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: this.options.commandTimeoutMs,
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
      // Default backoff (50 ms more per attempt, at most 2 s), never giving up: recovery needs no restart.
      retryStrategy: (attempt) => Math.min(attempt * 50, 2_000),
    });
    // Without an 'error' listener ioredis prints every failed reconnect to stderr.
    client.on('error', (err: NodeJS.ErrnoException) => this.failed(err));
    client.on('close', () => {
      if (!this.closing) this.failed(undefined);
    });
    client.on('ready', () => this.succeeded());
    this.client = client;
    try {
      await client.connect();
    } catch (err) {
      this.failed(err as NodeJS.ErrnoException);
    }
  }

  /** Sends one raw command (what rate-limit-redis needs). Rejects at once while disconnected. */
  call(command: string, args: readonly string[]): Promise<unknown> {
    const client = this.client;
    if (!client) return Promise.reject(RateLimitErrors.UNAVAILABLE('the rate-limit Redis client is not started (or already stopped)', { details: { code: 'NOT_CONNECTED' } }));
    return client.call(command, ...args);
  }

  /** True while the last command or connection attempt failed. */
  isFailing(): boolean {
    return this.failing;
  }

  /** Records a failed command: the first failure after a success is logged, the rest are not (one line per outage). */
  failed(err: NodeJS.ErrnoException | undefined): void {
    if (this.closing) return;
    const code = errorCode(err);
    if (err !== undefined && code !== 'NOT_CONNECTED' && code !== 'GANTRY_RATE_LIMIT_UNAVAILABLE') this.lastCode = code;
    if (this.failing) return;
    this.failing = true;
    this.options.logger.warn(
      { code },
      'rate-limit store unavailable: Redis cannot be reached; policies with failOpen let requests through, the others answer 503 until it is back',
    );
  }

  /** Records a successful command or reconnection (cheap: called on every counted request). */
  succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    this.lastCode = undefined;
    this.options.logger.info('rate-limit store available again: Redis answers');
  }

  /** PING, bounded by the command timeout. */
  async ping(): Promise<PingResult> {
    const client = this.client;
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
    const client = this.client;
    if (!client) return;
    this.closing = true;
    this.client = undefined;
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
  if (/timed out/i.test(message)) return 'TIMEOUT';
  if (/writeable|closed|enableOfflineQueue/i.test(message)) return 'NOT_CONNECTED';
  return 'REDIS_ERROR';
}
