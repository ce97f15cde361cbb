import {
  bulkhead,
  circuitBreaker,
  ConsecutiveBreaker,
  decorrelatedJitterGenerator,
  ExponentialBackoff,
  fullJitterGenerator,
  handleWhen,
  noJitterGenerator,
  retry,
  SamplingBreaker,
  timeout,
  TimeoutStrategy,
  wrap,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
  type IBackoffFactory,
  type IDefaultPolicyContext,
  type IPolicy,
  type IRetryBackoffContext,
} from 'cockatiel';
import { DEFAULT_HALF_OPEN_AFTER_MS, type PolicyConfig, type PolicyKind } from './config.js';

/** One named policy as built at boot: the wrapped chain plus the stages whose state is reported. */
export interface BuiltPolicy {
  readonly name: string;
  readonly order: readonly PolicyKind[];
  /** The whole chain, first kind of `order` outermost. */
  readonly chain: IPolicy<IDefaultPolicyContext>;
  readonly breaker: CircuitBreakerPolicy | undefined;
  readonly halfOpenAfterMs: number;
  readonly bulkhead: BulkheadPolicy | undefined;
  readonly bulkheadLimit: number;
  readonly bulkheadQueue: number;
  readonly timeoutMs: number | undefined;
  /** Epoch ms of the last time the breaker opened (0 = never): the base of Retry-After. */
  openedAt: number;
}

/** What the builder needs from its owner. */
export interface BuildPolicyOptions {
  readonly name: string;
  readonly config: PolicyConfig;
  /** Decides whether an error counts as a failure (opens the breaker, is retried). */
  readonly isFailure: (error: unknown) => boolean;
}

/** Builds one named policy from its validated options. Called once per policy at boot. */
export function buildPolicy(options: BuildPolicyOptions): BuiltPolicy {
  const { name, config, isFailure } = options;
  // One filter shared by retry and breaker: they must agree on what a failure is, and an open
  // breaker or a full bulkhead must never be retried (it would only hammer the same rejection).
  const failures = handleWhen(isFailure);
  let breakerPolicy: CircuitBreakerPolicy | undefined;
  let bulkheadPolicy: BulkheadPolicy | undefined;
  const halfOpenAfterMs = config.halfOpenAfterMs ?? DEFAULT_HALF_OPEN_AFTER_MS;

  const stages = config.order.map((kind): IPolicy<IDefaultPolicyContext> => {
    switch (kind) {
      case 'timeout': {
        const t = config.timeout!;
        // abortOnReturn false: the HTTP client returns a Response whose body is read after the call
        // returns; aborting the signal then would cut the body. The request deadline still bounds it.
        return timeout(t.ms, {
          strategy: t.strategy === 'cooperative' ? TimeoutStrategy.Cooperative : TimeoutStrategy.Aggressive,
          abortOnReturn: false,
        });
      }
      case 'retry': {
        const r = config.retry!;
        return retry(failures, { maxAttempts: r.maxAttempts, backoff: backoffFor(r) });
      }
      case 'breaker': {
        const b = config.breaker!;
        const breaker =
          b.kind === 'consecutive'
            ? new ConsecutiveBreaker(b.threshold)
            : new SamplingBreaker({
                threshold: b.threshold,
                duration: b.durationMs,
                ...(b.minimumRps === undefined ? {} : { minimumRps: b.minimumRps }),
              });
        breakerPolicy = circuitBreaker(failures, { halfOpenAfter: halfOpenAfterMs, breaker });
        return breakerPolicy;
      }
      case 'bulkhead': {
        const b = config.bulkhead!;
        bulkheadPolicy = bulkhead(b.limit, b.queue);
        return bulkheadPolicy;
      }
    }
  });

  return {
    name,
    order: config.order,
    chain: stages.length === 1 ? stages[0]! : wrap(...stages),
    breaker: breakerPolicy,
    halfOpenAfterMs,
    bulkhead: bulkheadPolicy,
    bulkheadLimit: config.bulkhead?.limit ?? 0,
    bulkheadQueue: config.bulkhead?.queue ?? 0,
    timeoutMs: config.timeout?.ms,
    openedAt: 0,
  };
}

function backoffFor(r: NonNullable<PolicyConfig['retry']>): IBackoffFactory<IRetryBackoffContext<unknown>> {
  const base = { initialDelay: r.initialDelayMs, maxDelay: r.maxDelayMs };
  switch (r.jitter) {
    case 'none':
      return new ExponentialBackoff({ ...base, generator: noJitterGenerator });
    case 'full':
      return new ExponentialBackoff({ ...base, generator: fullJitterGenerator });
    case 'decorrelated':
      return new ExponentialBackoff({ ...base, generator: decorrelatedJitterGenerator });
  }
}
