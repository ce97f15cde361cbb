import { AsyncLocalStorage } from 'node:async_hooks';
import { CoreErrors } from './errors.js';
import type { Logger } from './logger.js';

/** Who is calling: set by an authentication plugin. */
export interface Principal {
  readonly id: string;
  readonly kind: 'user' | 'service' | (string & {});
  readonly roles?: readonly string[];
  readonly permissions?: readonly string[];
  readonly [key: string]: unknown;
}

/**
 * The per-request context, like Go's `context.Context`: request id, principal, a deadline and the
 * AbortSignal that fires at the deadline (or when the client goes away), and a child logger.
 * The signal and the logger are built lazily: a request that never asks for them pays nothing.
 */
export class RequestContext {
  principal: Principal | undefined = undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private childLogger: Logger | undefined;
  private slots: Map<symbol, unknown> | undefined;

  constructor(
    readonly requestId: string,
    /** Epoch milliseconds after which work for this request should stop. */
    readonly deadline: number,
    private readonly baseLogger: Logger,
  ) {}

  /** Milliseconds left before the deadline (never negative). */
  remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  /** Aborts at the deadline or when {@link cancel} is called. Pass it to every outgoing call. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      const remaining = this.remainingMs();
      if (remaining === 0) this.abortWithDeadline();
      else {
        this.timer = setTimeout(() => this.abortWithDeadline(), remaining);
        this.timer.unref();
      }
    }
    return this.controller.signal;
  }

  /** Cancels the context (client disconnected, request finished). Idempotent. */
  cancel(reason?: unknown): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.controller && !this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** Releases the deadline timer once the request is done, without aborting. */
  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Logger bound to this request's id (and principal once known). */
  get logger(): Logger {
    this.childLogger ??= this.baseLogger.child({ requestId: this.requestId });
    return this.childLogger;
  }

  /** Per-request state a plugin owns, keyed by its own symbol (e.g. a request-scoped EntityManager). */
  get<T>(key: symbol): T | undefined {
    return this.slots?.get(key) as T | undefined;
  }

  /** Stores per-request state under a plugin-owned symbol. */
  set<T>(key: symbol, value: T): void {
    (this.slots ??= new Map()).set(key, value);
  }

  private abortWithDeadline(): void {
    this.controller?.abort(CoreErrors.DEADLINE_EXCEEDED(`request ${this.requestId} passed its deadline`));
  }
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` inside `ctx`: every await below it sees the same context. */
export function runWithContext<R>(ctx: RequestContext, fn: () => R): R {
  return storage.run(ctx, fn);
}

/**
 * Runs `fn` outside any request: for work that outlives its request (a mail sent after the answer),
 * which must not inherit the request's deadline, cancellation or EntityManager.
 */
export function runDetached<R>(fn: () => R): R {
  return storage.exit(fn);
}

/** The context of the current request, or undefined outside one (boot, background jobs). */
export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

/** The current request's AbortSignal, combined with `extra` when given; undefined outside a request. */
export function currentSignal(extra?: AbortSignal): AbortSignal | undefined {
  const ctx = storage.getStore();
  if (!ctx) return extra;
  return extra ? AbortSignal.any([ctx.signal, extra]) : ctx.signal;
}
