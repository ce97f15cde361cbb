import type { Logger } from '@gantry/core';
import type { Redis } from 'ioredis';

/** The channel Redis publishes invalidations on for a client tracking in RESP2 (redirect) mode. */
const INVALIDATE_CHANNEL = '__redis__:invalidate';

/**
 * Called with the keys Redis says changed (set, deleted, expired, evicted), or with `null` when every
 * key must be forgotten: FLUSHDB/FLUSHALL, the watch's connection lost, re-armed after a loss, or closed.
 */
export type InvalidationListener = (keys: readonly string[] | null) => void;

/** Keys under some prefixes whose changes Redis pushes to this process (see {@link RedisConnection.watchKeys}). */
export interface KeyWatch {
  /**
   * True while Redis is known to push this watch's invalidations. A reader may keep a value it read
   * only if the watch was live when it sent the read, and no invalidation (listener call) came before the
   * reply: the reply may predate a change whose invalidation overtook it on the other connection.
   */
  readonly live: boolean;
  /** Stops the watch: one last `null` invalidation, then its connection is closed. */
  close(): Promise<void>;
}

/**
 * Server-assisted client-side caching (Redis 6+ `CLIENT TRACKING`, broadcasting mode): one connection of
 * its own asks Redis for an invalidation message on every change of a key under the prefixes, redirected
 * to itself and read as pub/sub messages (RESP2, what ioredis speaks). Broadcasting mode keeps no
 * per-key state in the server and tracks no read: the watch costs Redis one prefix entry per prefix and
 * one message per change, to every watching instance.
 *
 * Every (re)connection arms it again (`CLIENT ID`, `CLIENT TRACKING ON REDIRECT <own id> BCAST PREFIX …`,
 * `SUBSCRIBE`); until armed, and from the moment the connection is lost, {@link live} is false and the
 * listener is told to forget everything. A server that refuses tracking (before Redis 6, an ACL
 * without `client`) leaves the watch never live, with one warning: readers then read Redis every time.
 */
export class RedisKeyWatch implements KeyWatch {
  private isLive = false;
  /** Bumped by every connection loss and close: an arming that started before it must not finish. */
  private attempt = 0;
  private closed = false;
  private refusedWarned = false;
  /** The arming in progress (or the last one), for open() to wait on. */
  private arming: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: Redis,
    private readonly prefixes: readonly string[],
    private readonly listener: InvalidationListener,
    private readonly logger: Logger,
    private readonly onClose: () => void = () => undefined,
  ) {
    // The redis plugin's main connection logs outages; this one follows the same server.
    client.on('error', () => undefined);
    client.on('ready', () => {
      this.arming = this.arm();
    });
    client.on('close', () => this.lost());
    client.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (String(channel) === INVALIDATE_CHANNEL) this.received(message);
    });
  }

  get live(): boolean {
    return this.isLive;
  }

  /** Connects and arms; resolves once armed, refused, or failed to connect (ioredis keeps reconnecting then). */
  async open(): Promise<void> {
    await this.client.connect().catch(() => undefined);
    await this.arming;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
    this.attempt++;
    this.isLive = false;
    this.notify(null);
    // A subscribed RESP2 connection answers nothing but (UN)SUBSCRIBE, PING and QUIT: nothing to wait for.
    this.client.disconnect();
  }

  private async arm(): Promise<void> {
    const attempt = ++this.attempt;
    try {
      const id = await this.client.client('ID');
      const tracking = ['TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST'];
      for (const prefix of this.prefixes) tracking.push('PREFIX', prefix);
      await this.client.call('CLIENT', ...tracking);
      await this.client.subscribe(INVALIDATE_CHANNEL);
    } catch (err) {
      if (attempt !== this.attempt || this.closed) return;
      const code = (err as Error).name === 'ReplyError' ? /^[A-Z]+\b/.exec((err as Error).message)?.[0] : undefined;
      // A lost connection re-arms at the next 'ready'; a refusal is the server's answer for good.
      if (code !== undefined && !this.refusedWarned) {
        this.refusedWarned = true;
        this.logger.warn(
          { code, prefixes: this.prefixes },
          'Redis refused CLIENT TRACKING (it needs Redis 6+ and, under an ACL, the commands client|id and client|tracking): values under these prefixes are read from Redis every time',
        );
      }
      return;
    }
    if (attempt !== this.attempt || this.closed) return;
    // What a reader kept before now was not covered by this watch.
    this.notify(null);
    this.isLive = true;
  }

  private lost(): void {
    if (this.closed) return;
    this.attempt++;
    this.isLive = false;
    this.notify(null);
  }

  private received(message: unknown): void {
    // disconnect() half-closes the socket: Redis may still push until it reads the end.
    if (this.closed) return;
    if (message === null) this.notify(null);
    else if (Array.isArray(message)) this.notify(message.map(String));
    else this.notify([String(message)]);
  }

  private notify(keys: readonly string[] | null): void {
    try {
      this.listener(keys);
    } catch (err) {
      this.logger.error({ err }, 'a Redis key-watch listener threw');
    }
  }
}
