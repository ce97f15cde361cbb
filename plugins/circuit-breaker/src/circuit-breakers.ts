import { AsyncLocalStorage } from 'node:async_hooks';
import { CoreErrors, currentSignal, GantryError, type Logger } from '@gantry/core';
import {
  CircuitState,
  isBrokenCircuitError,
  isBulkheadRejectedError,
  isTaskCancelledError,
  type IDefaultPolicyContext,
  type IDisposable,
} from 'cockatiel';
import type { CircuitBreakerConfig } from './config.js';
import { CircuitBreakerErrors } from './errors.js';
import { createHttpClient, type HttpClient, type HttpClientOptions, type ServiceResolver } from './http-client.js';
import { buildPolicy, type BuiltPolicy } from './policy-builder.js';

/** State of a policy's breaker; `none` when the policy has no breaker stage. */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated' | 'none';

/** What `state(name)` reports about one policy. */
export interface PolicyState {
  /** The breaker's state. An open breaker stays `open` until the next call after halfOpenAfterMs (half-open is lazy). */
  readonly state: BreakerState;
  /** While open: seconds until a trial call is let through (0 once it is due). */
  readonly retryAfterSeconds?: number;
  /** While open: when the breaker opened (ISO 8601). */
  readonly openedAt?: string;
  /** With a bulkhead: calls running and waiting, and the configured limits. */
  readonly bulkhead?: {
    readonly active: number;
    readonly queued: number;
    readonly limit: number;
    readonly queue: number;
  };
}

/** A breaker state transition, as given to {@link CircuitBreakers.onStateChange} listeners. */
export interface StateChange {
  readonly policy: string;
  readonly state: Exclude<BreakerState, 'none'>;
}

/** Options of one {@link CircuitBreakers.execute} call. */
export interface ExecuteOptions {
  /** The caller's own cancellation; combined with the current request's deadline signal. */
  readonly signal?: AbortSignal;
}

/** The work run through a policy: honour `signal` (pass it to fetch, the driver, ...). `attempt` is 0 for the first call. */
export type PolicyWork<T> = (signal: AbortSignal, attempt: number) => Promise<T> | T;

/** The service behind {@link CircuitBreakersToken}: named policies built at boot from the config. */
export interface CircuitBreakers {
  /**
   * Runs `work` through the named policy. The signal given to `work` aborts at the policy's timeout,
   * the current request's deadline, or `options.signal`, whichever comes first. Failures become
   * GANTRY_CIRCUIT_BREAKER_{OPEN,BULKHEAD_FULL,TIMEOUT,UPSTREAM_FAILED}; a GantryError thrown by
   * `work` passes through unchanged; an abort by the caller rethrows the caller's abort reason.
   */
  execute<T>(name: string, work: PolicyWork<T>, options?: ExecuteOptions): Promise<T>;
  /** The state of one policy; GANTRY_CIRCUIT_BREAKER_UNKNOWN_POLICY for an undeclared name. */
  state(name: string): PolicyState;
  /** The state of every policy, by name. */
  states(): Readonly<Record<string, PolicyState>>;
  /** Names of the declared policies. */
  names(): readonly string[];
  /** An HTTP client whose every request goes through the named policy (build it once, at boot). */
  httpClient(policy: string, options: HttpClientOptions): HttpClient;
  /** Calls `listener` on every breaker transition (open, half-open, closed); returns an unsubscribe function. */
  onStateChange(listener: (change: StateChange) => void): () => void;
}

/** Per-call state shared by the attempts of one execute() and read by the failure filter. */
interface CallState {
  /** The caller's and the request's combined signal (undefined outside a request without a caller signal). */
  readonly outer: AbortSignal | undefined;
  attempts: number;
  /** The last attempt ended because the policy's own timeout aborted its signal (cooperative timeouts throw no TaskCancelledError). */
  timedOut: boolean;
}

const STATE_NAMES: Record<CircuitState, Exclude<BreakerState, 'none'>> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/** Seconds a client should wait before retrying a call rejected by a full bulkhead. */
const BULKHEAD_RETRY_AFTER_SECONDS = '1';

/** Default implementation of {@link CircuitBreakers}, built once per kernel from the plugin's options. */
export class PolicyRegistry implements CircuitBreakers {
  private readonly policies = new Map<string, BuiltPolicy>();
  private readonly listeners = new Set<(change: StateChange) => void>();
  private readonly subscriptions: IDisposable[] = [];
  // The failure filter is built once per policy, but whether the caller gave up is per call: the
  // call's state travels to the filter through this store instead of a per-call policy.
  private readonly calls = new AsyncLocalStorage<CallState>();

  private built: CircuitBreakerConfig | undefined;

  constructor(
    config: CircuitBreakerConfig,
    private readonly logger: Logger,
    /** Service discovery (the consul-config plugin's), looked up when a client calls `http://<service>/...`. */
    private readonly resolver?: () => ServiceResolver | undefined,
  ) {
    this.built = config;
    this.build(config);
  }

  /**
   * Builds the policies again from `config` when it is not the one they were built from (a config
   * change the plugin restarts for): breakers start closed, bulkheads empty. Clients built before keep
   * working: they look their policy up by name on each call. A policy that disappeared makes their
   * calls fail with GANTRY_CIRCUIT_BREAKER_UNKNOWN_POLICY.
   */
  rebuild(config: CircuitBreakerConfig): void {
    if (config === this.built) return;
    for (const s of this.subscriptions.splice(0)) s.dispose();
    this.policies.clear();
    this.built = config;
    this.build(config);
  }

  private build(config: CircuitBreakerConfig): void {
    const isFailure = (error: unknown): boolean => this.isFailure(error);
    for (const [name, policyConfig] of Object.entries(config.policies)) {
      const built = buildPolicy({ name, config: policyConfig, isFailure });
      this.policies.set(name, built);
      if (built.breaker) this.watch(built);
    }
  }

  async execute<T>(name: string, work: PolicyWork<T>, options?: ExecuteOptions): Promise<T> {
    const policy = this.get(name);
    const outer = currentSignal(options?.signal);
    if (outer?.aborted) throw this.abortError(policy, outer);
    const call: CallState = { outer, attempts: 0, timedOut: false };
    const attempt = async ({ signal }: IDefaultPolicyContext): Promise<T> => {
      // cockatiel cannot interrupt a retry backoff: once it ends it would call the work again with an
      // aborted signal. Stop here instead, so a caller that gave up never causes one more request.
      if (outer?.aborted) throw outer.reason;
      const n = call.attempts++;
      call.timedOut = false;
      try {
        return await work(signal, n);
      } catch (err) {
        // Only the latest attempt speaks for the call: an earlier attempt cut by an aggressive timeout may reject late.
        if (n === call.attempts - 1) call.timedOut = signal.aborted && !outer?.aborted;
        throw err;
      }
    };
    let running = this.calls.run(call, () => policy.chain.execute(attempt, outer));
    // Settle at the caller's abort even while cockatiel sleeps in a backoff or the work ignores its signal.
    if (outer) running = settleOnAbort(running, outer);
    try {
      return await running;
    } catch (err) {
      throw this.toGantryError(policy, call, err);
    }
  }

  state(name: string): PolicyState {
    return this.describe(this.get(name));
  }

  states(): Readonly<Record<string, PolicyState>> {
    const out: Record<string, PolicyState> = {};
    for (const [name, policy] of this.policies) out[name] = this.describe(policy);
    return out;
  }

  names(): readonly string[] {
    return [...this.policies.keys()];
  }

  httpClient(policy: string, options: HttpClientOptions): HttpClient {
    this.get(policy);
    return createHttpClient({ breakers: this, policy, resolver: this.resolver, ...options });
  }

  onStateChange(listener: (change: StateChange) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Drops the breakers' event subscriptions, keeping the listeners (the plugin's stop hook): the next
   * {@link rebuild} builds the policies again even from the same options.
   */
  release(): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
    this.built = undefined;
  }

  /** Drops breaker event subscriptions and listeners (kernel stop). */
  dispose(): void {
    for (const s of this.subscriptions.splice(0)) s.dispose();
    this.listeners.clear();
  }

  private get(name: string): BuiltPolicy {
    const policy = this.policies.get(name);
    if (!policy) {
      const known = [...this.policies.keys()].map((n) => `"${n}"`).join(', ') || 'none';
      throw CircuitBreakerErrors.UNKNOWN_POLICY(`circuit-breaker: no policy named "${name}" (declared: ${known})`, {
        details: { policy: name },
      });
    }
    return policy;
  }

  private isFailure(error: unknown): boolean {
    // Rejections by our own stages say nothing new about the dependency and must not be retried.
    if (isBrokenCircuitError(error) || isBulkheadRejectedError(error)) return false;
    // The caller (or the request deadline) gave up: not the dependency's fault, and no retry can help.
    if (this.calls.getStore()?.outer?.aborted) return false;
    // A 4xx GantryError is an answer about the request, not a sign the dependency is unhealthy.
    if (GantryError.is(error) && error.status < 500) return false;
    return true;
  }

  private watch(policy: BuiltPolicy): void {
    const breaker = policy.breaker!;
    const emit = (state: StateChange['state']): void => {
      for (const listener of this.listeners) {
        try {
          listener({ policy: policy.name, state });
        } catch (err) {
          this.logger.error({ err, policy: policy.name }, 'circuit-breaker state listener failed');
        }
      }
    };
    this.subscriptions.push(
      breaker.onBreak(() => {
        policy.openedAt = Date.now();
        this.logger.warn(
          { policy: policy.name, halfOpenAfterMs: policy.halfOpenAfterMs },
          `circuit "${policy.name}" opened`,
        );
        emit('open');
      }),
      breaker.onHalfOpen(() => {
        this.logger.info({ policy: policy.name }, `circuit "${policy.name}" half-open: letting a trial call through`);
        emit('half-open');
      }),
      breaker.onReset(() => {
        this.logger.info({ policy: policy.name }, `circuit "${policy.name}" closed`);
        emit('closed');
      }),
    );
  }

  private describe(policy: BuiltPolicy): PolicyState {
    const state: BreakerState = policy.breaker ? STATE_NAMES[policy.breaker.state] : 'none';
    const bulkhead = policy.bulkhead
      ? {
          active: policy.bulkheadLimit - policy.bulkhead.executionSlots,
          queued: policy.bulkheadQueue - policy.bulkhead.queueSlots,
          limit: policy.bulkheadLimit,
          queue: policy.bulkheadQueue,
        }
      : undefined;
    if (state !== 'open') return bulkhead ? { state, bulkhead } : { state };
    return {
      state,
      retryAfterSeconds: Math.ceil(retryAfterMs(policy) / 1000),
      openedAt: new Date(policy.openedAt).toISOString(),
      ...(bulkhead ? { bulkhead } : {}),
    };
  }

  private abortError(policy: BuiltPolicy, outer: AbortSignal): unknown {
    const reason: unknown = outer.reason;
    if (CoreErrors.DEADLINE_EXCEEDED.is(reason)) {
      return CircuitBreakerErrors.TIMEOUT(
        `policy "${policy.name}": the request deadline passed before the upstream call finished`,
        {
          cause: reason,
          details: { policy: policy.name, reason: 'deadline' },
        },
      );
    }
    // The caller aborted with its own reason: give it back, as fetch and every AbortSignal API do.
    return reason;
  }

  private toGantryError(policy: BuiltPolicy, call: CallState, err: unknown): unknown {
    const name = policy.name;
    if (call.outer?.aborted) return this.abortError(policy, call.outer);
    if (isBrokenCircuitError(err)) {
      const seconds = Math.max(1, Math.ceil(retryAfterMs(policy) / 1000));
      return CircuitBreakerErrors.OPEN(
        `policy "${name}": the circuit is open after repeated upstream failures; calls are refused for ${seconds} s more`,
        {
          cause: err,
          headers: { 'Retry-After': String(seconds) },
          details: { policy: name, retryAfterSeconds: seconds },
        },
      );
    }
    if (isBulkheadRejectedError(err)) {
      return CircuitBreakerErrors.BULKHEAD_FULL(
        `policy "${name}": ${policy.bulkheadLimit} calls are running and ${policy.bulkheadQueue} waiting; this one was refused`,
        {
          cause: err,
          headers: { 'Retry-After': BULKHEAD_RETRY_AFTER_SECONDS },
          details: { policy: name, limit: policy.bulkheadLimit, queue: policy.bulkheadQueue },
        },
      );
    }
    if (isTaskCancelledError(err) || call.timedOut) {
      return CircuitBreakerErrors.TIMEOUT(
        `policy "${name}": the upstream call did not finish within ${policy.timeoutMs} ms (${plural(call.attempts, 'attempt')})`,
        {
          cause: err,
          details: { policy: name, reason: 'timeout', timeoutMs: policy.timeoutMs, attempts: call.attempts },
        },
      );
    }
    if (CircuitBreakerErrors.UPSTREAM_FAILED.is(err)) {
      // Raised per attempt by the HTTP client; restate it once with the attempt count.
      return CircuitBreakerErrors.UPSTREAM_FAILED(
        `policy "${name}": ${err.message} (${plural(call.attempts, 'attempt')})`,
        {
          cause: err.cause,
          details: { ...err.details, policy: name, attempts: call.attempts },
        },
      );
    }
    if (GantryError.is(err)) return err;
    const code = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
    const message = (err instanceof Error ? err.message : String(err)) + (typeof code === 'string' ? ` (${code})` : '');
    return CircuitBreakerErrors.UPSTREAM_FAILED(
      `policy "${name}": the upstream call failed (${plural(call.attempts, 'attempt')}): ${message}`,
      {
        cause: err,
        details: { policy: name, attempts: call.attempts },
      },
    );
  }
}

function retryAfterMs(policy: BuiltPolicy): number {
  return Math.max(0, policy.openedAt + policy.halfOpenAfterMs - Date.now());
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Settles with `running`, or rejects with the signal's reason as soon as it aborts. */
function settleOnAbort<T>(running: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    running.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
