import type { GantryError } from '@gantry/core';
import {
  MemoryStore,
  type ClientRateLimitInfo,
  type IncrementResponse,
  type Options,
  type Store,
} from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { RateLimitErrors } from './errors.js';

/** Seconds a client is asked to wait when the store is unavailable (`Retry-After` of the 503). */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * The store of one limiter, opened and closed with the plugin. express-rate-limit calls `init()` when
 * a limiter is built (at register): here it only records the window; timers and Redis commands
 * wait for `open()` (start) or the first request.
 */
export interface PolicyStore extends Store {
  readonly prefix: string;
  init(options: Options): void;
  get(key: string): Promise<ClientRateLimitInfo | undefined>;
  increment(key: string): Promise<IncrementResponse>;
  decrement(key: string): Promise<void>;
  resetKey(key: string): Promise<void>;
  open(): void;
  close(): void;
}

/** Counters in this process only (the `memory` store): express-rate-limit's MemoryStore. */
export class MemoryPolicyStore implements PolicyStore {
  readonly localKeys = true;
  private readonly inner = new MemoryStore();
  private windowMs = 60_000;

  constructor(readonly prefix: string) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  open(): void {
    // Starts MemoryStore's (unref'd) expiry timer; close() stops it.
    this.inner.init({ windowMs: this.windowMs } as Options);
  }

  close(): void {
    this.inner.shutdown();
  }

  get(key: string): Promise<ClientRateLimitInfo | undefined> {
    return this.inner.get(key);
  }

  increment(key: string): Promise<IncrementResponse> {
    return this.inner.increment(key);
  }

  decrement(key: string): Promise<void> {
    return this.inner.decrement(key);
  }

  resetKey(key: string): Promise<void> {
    return this.inner.resetKey(key);
  }
}

/**
 * The one method of the redis plugin's shared connection (`RedisConnection.call`) the redis store uses:
 * one raw command, its raw reply, ioredis errors passed on (rate-limit-redis reads NOSCRIPT replies).
 * Declared here so that the types of this package do not need `@gantry/plugin-redis` (an optional peer).
 */
export interface RedisCommandSender {
  call(command: string, args: readonly string[]): Promise<unknown>;
}

/** What {@link RedisPolicyStore} needs. */
export interface RedisPolicyStoreOptions {
  readonly connection: RedisCommandSender;
  /** Key prefix of this limiter, e.g. `gantry:rl:auth:`. */
  readonly prefix: string;
  readonly policy: string;
  /** Called when a command fails, before the error goes to express-rate-limit (metrics). */
  readonly onUnavailable: () => void;
}

/**
 * Counters in Redis (the `redis` store): rate-limit-redis over the redis plugin's shared connection,
 * which records outages and recoveries (one log line each). Its Lua scripts are loaded on first use
 * and loaded again after a failed load, so a Redis that was down at boot is used as soon as it answers
 * (rate-limit-redis alone keeps the failed load forever). Every failure becomes
 * GANTRY_RATE_LIMIT_UNAVAILABLE; the limiter then fails open or closed per policy.
 */
export class RedisPolicyStore implements PolicyStore {
  readonly localKeys = false;
  readonly prefix: string;
  private readonly inner: RedisStore;
  private scripts: Promise<void> | undefined;
  private scriptsLoaded = false;
  private windowMs = 60_000;

  constructor(private readonly options: RedisPolicyStoreOptions) {
    this.prefix = options.prefix;
    const connection = options.connection;
    this.inner = new RedisStore({
      prefix: options.prefix,
      sendCommand: (command: string, ...args: string[]) => connection.call(command, args) as Promise<RedisReply>,
    });
  }

  init(options: Options): void {
    this.windowMs = options.windowMs;
  }

  open(): void {
    // Nothing to open: the redis plugin opens the shared connection; scripts load on first use.
  }

  close(): void {
    this.scripts = undefined;
    this.scriptsLoaded = false;
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    try {
      if (!this.scriptsLoaded) await this.loadScripts();
      return await this.inner.get(key);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async increment(key: string): Promise<IncrementResponse> {
    try {
      if (!this.scriptsLoaded) await this.loadScripts();
      return await this.inner.increment(key);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async decrement(key: string): Promise<void> {
    try {
      await this.inner.decrement(key);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async resetKey(key: string): Promise<void> {
    try {
      await this.inner.resetKey(key);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  private loadScripts(): Promise<void> {
    this.scripts ??= this.inner.init({ windowMs: this.windowMs } as Options).then(
      () => {
        this.scriptsLoaded = true;
      },
      (err: unknown) => {
        this.scripts = undefined;
        throw err;
      },
    );
    return this.scripts;
  }

  private unavailable(err: unknown): GantryError {
    this.options.onUnavailable();
    // The client sees no Redis detail (hosts, codes): only that counting is impossible right now.
    return RateLimitErrors.UNAVAILABLE(
      `requests of rate-limit policy "${this.options.policy}" cannot be counted right now; retry later`,
      {
        cause: err,
        headers: { 'Retry-After': String(UNAVAILABLE_RETRY_AFTER_SECONDS) },
        details: { policy: this.options.policy },
      },
    );
  }
}
