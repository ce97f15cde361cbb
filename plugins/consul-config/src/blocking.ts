import { EventEmitter } from 'node:events';
import { abortableSleep, backoffDelay } from './backoff.js';

/** What the consul client hands back with `ctx.includeResponse`: the response and the decoded body. */
export type ConsulAnswer<T> = [{ headers: Record<string, string | string[] | undefined> }, T | undefined];

/** Options of one call of a blocking query. */
export interface BlockingCall {
  /** The last `X-Consul-Index` seen (absent on the first call: answers at once). */
  readonly index?: string;
  /** How long Consul may hold the request (`30s`). */
  readonly wait: string;
  /** Client-side limit: the wait, Consul's jitter (wait/16) and a margin. */
  readonly timeout: number;
  /** The consul client's cancellation context (emit `cancel`), with `includeResponse`. */
  readonly ctx: EventEmitter;
}

/** How a {@link BlockingWatch} runs. */
export interface BlockingWatchOptions<T> {
  readonly query: (call: BlockingCall) => Promise<ConsulAnswer<T>>;
  /** Called with each answer whose index moved (and with the first one). */
  readonly onData: (data: T | undefined, index: bigint) => void;
  /** Called on each failed call, before the backoff sleep. */
  readonly onError: (err: unknown, attempt: number, delayMs: number) => void;
  readonly waitMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
}

/**
 * A Consul blocking query loop, by the rules of Consul's "Blocking Queries" documentation: pass the
 * last `X-Consul-Index` back as `?index=`; a change is an index that moved; an index that went
 * backwards resets to 0; errors retry with exponential backoff and jitter (never a tight loop).
 */
export class BlockingWatch<T> {
  index = 0n;
  private readonly ctrl = new AbortController();
  private ctx: EventEmitter | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: BlockingWatchOptions<T>) {}

  /** Starts the loop from `index` (0: the first answer comes at once and counts as a change). */
  start(index = 0n): void {
    this.index = index;
    this.loop ??= this.run();
  }

  /** Stops the loop, cancelling a call in flight and any backoff sleep. */
  async stop(): Promise<void> {
    this.ctrl.abort();
    this.ctx?.emit('cancel');
    await this.loop;
  }

  get stopped(): boolean {
    return this.ctrl.signal.aborted;
  }

  private async run(): Promise<void> {
    const { waitMs, backoff } = this.options;
    const signal = this.ctrl.signal;
    let attempt = 0;
    let first = this.index === 0n;
    while (!signal.aborted) {
      const ctx = Object.assign(new EventEmitter(), { includeResponse: true });
      this.ctx = ctx;
      try {
        const [res, data] = await this.options.query({
          ...(this.index > 0n ? { index: String(this.index) } : {}),
          wait: `${Math.ceil(waitMs / 1000)}s`,
          timeout: waitMs + Math.ceil(waitMs / 16) + 5_000,
          ctx,
        });
        if (signal.aborted) return;
        attempt = 0;
        const raw = res.headers['x-consul-index'];
        let next: bigint;
        try {
          next = BigInt(Array.isArray(raw) ? (raw[0] ?? '0') : (raw ?? '0'));
        } catch {
          next = 0n;
        }
        // An index that went backwards (a restored snapshot, another server) or 0: start over.
        const reset = next <= 0n || next < this.index;
        const moved = reset || next !== this.index;
        this.index = reset ? 0n : next;
        if (moved || first) this.options.onData(data, next);
        first = false;
        // A reset index answers at once next time: wait a little so a broken agent cannot spin us.
        if (reset) await abortableSleep(backoff.initialMs, signal);
      } catch (err) {
        if (signal.aborted) return;
        const delay = backoffDelay(attempt, backoff.initialMs, backoff.maxMs);
        attempt++;
        this.options.onError(err, attempt, delay);
        await abortableSleep(delay, signal);
      }
    }
  }
}
