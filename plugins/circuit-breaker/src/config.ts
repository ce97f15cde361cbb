import { z } from 'zod';

/** The resilience kinds a policy can combine, in the order its `order` lists them (first = outermost). */
export const POLICY_KINDS = ['bulkhead', 'retry', 'breaker', 'timeout'] as const;

/** One of {@link POLICY_KINDS}. */
export type PolicyKind = (typeof POLICY_KINDS)[number];

const POLICY_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Options of a policy's `timeout`. */
export const timeoutSchema = z
  .object({
    ms: z.number().int().min(1).max(600_000).describe('Time limit of each call through this stage, in milliseconds'),
    strategy: z
      .enum(['aggressive', 'cooperative'])
      .default('aggressive')
      .describe(
        'aggressive: reject at the limit even if the work ignores its signal; cooperative: only abort the signal and let the work end itself',
      ),
  })
  .strict();

/** Options of a policy's `retry`. */
export const retrySchema = z
  .object({
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(20)
      .describe('Retries after the first call (cockatiel semantics: 3 means up to 4 calls)'),
    initialDelayMs: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(100)
      .describe('Backoff before the first retry, in milliseconds (doubles on each retry)'),
    maxDelayMs: z
      .number()
      .int()
      .min(0)
      .max(300_000)
      .default(5_000)
      .describe('Longest backoff between two calls, in milliseconds'),
    jitter: z
      .enum(['none', 'full', 'decorrelated'])
      .default('full')
      .describe(
        'none: exact exponential delays; full: random in [0, delay); decorrelated: Polly-style decorrelated jitter',
      ),
  })
  .strict();

/** Options of a policy's `breaker`: consecutive failures, or a failure rate over a sliding window. */
export const breakerSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('consecutive').describe('Open after `threshold` failures in a row'),
      threshold: z.number().int().min(1).max(1_000).describe('Consecutive failures that open the breaker'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('sampling').describe('Open when the failure rate over `durationMs` exceeds `threshold`'),
      threshold: z
        .number()
        .gt(0)
        .lt(1)
        .describe('Failure rate that opens the breaker, strictly between 0 and 1 (0.2 = 20 %)'),
      durationMs: z
        .number()
        .int()
        .min(1_000)
        .max(3_600_000)
        .default(30_000)
        .describe('Sliding window the failure rate is measured over, in milliseconds'),
      minimumRps: z
        .number()
        .positive()
        .max(100_000)
        .optional()
        .describe('Calls per second the window must average before the breaker may open (default 5 / threshold)'),
    })
    .strict(),
]);

/** Options of a policy's `bulkhead`. */
export const bulkheadSchema = z
  .object({
    limit: z.number().int().min(1).max(10_000).describe('Calls allowed to run at once'),
    queue: z
      .number()
      .int()
      .min(0)
      .max(100_000)
      .default(0)
      .describe('Calls allowed to wait for a slot; beyond limit + queue calls are rejected'),
  })
  .strict();

/** One named policy: the stages it combines and the order they wrap each other in. */
export const policySchema = z
  .object({
    order: z
      .array(z.enum(POLICY_KINDS))
      .min(1)
      .describe(
        'Stages from outermost to innermost, e.g. ["bulkhead","retry","breaker","timeout"]; each configured stage exactly once',
      ),
    timeout: timeoutSchema.optional().describe('Time limit of each call through the timeout stage'),
    retry: retrySchema.optional().describe('Retries with exponential backoff'),
    breaker: breakerSchema.optional().describe('Circuit breaker: consecutive or sampling'),
    halfOpenAfterMs: z
      .number()
      .int()
      .min(1)
      .max(3_600_000)
      .optional()
      .describe('Time an open breaker waits before letting one trial call through (default 10000; needs `breaker`)'),
    bulkhead: bulkheadSchema.optional().describe('Concurrency limit with a bounded queue'),
  })
  .strict();

/** A policy's validated options (defaults applied). */
export type PolicyConfig = z.output<typeof policySchema>;

/** A policy's options as written in the config file (defaults may be left out). */
export type PolicyOptions = z.input<typeof policySchema>;

/** Default time an open breaker waits before its trial call. */
export const DEFAULT_HALF_OPEN_AFTER_MS = 10_000;

/** Options of the `circuit-breaker` plugin (config key `circuit-breaker`, env `GANTRY_CIRCUIT_BREAKER__<KEY>`). */
export const circuitBreakerConfigSchema = z
  .object({
    policies: z
      .record(z.string(), policySchema)
      .default({})
      .describe('Named policies (e.g. "payments"), each built once at boot and shared by every call that names it'),
  })
  .strict()
  .superRefine(
    (config, ctx) => {
      // Runs even when a field failed (see `when`), so every problem is reported in one boot: the
      // value may then be partly invalid, hence the shape guards.
      const policies: unknown = (config as { policies?: unknown } | undefined)?.policies;
      if (typeof policies !== 'object' || policies === null) return;
      for (const [name, policy] of Object.entries(policies as Record<string, unknown>)) {
        if (!POLICY_NAME.test(name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['policies', name],
            message: `policy name "${name}" must start with a letter and use only letters, digits, "_", "." or "-" (64 characters at most)`,
          });
        }
        if (typeof policy !== 'object' || policy === null || !Array.isArray((policy as PolicyConfig).order)) continue;
        for (const problem of policyProblems(policy as PolicyConfig)) {
          ctx.addIssue({
            code: 'custom',
            path: ['policies', name, ...problem.path],
            message: `policy "${name}": ${problem.message}`,
          });
        }
      }
    },
    { when: () => true },
  );

/** Validated options of the `circuit-breaker` plugin. */
export type CircuitBreakerConfig = z.output<typeof circuitBreakerConfigSchema>;

/** Options of the `circuit-breaker` plugin as written in the config file. */
export type CircuitBreakerOptions = z.input<typeof circuitBreakerConfigSchema>;

/** Cross-field problems of one policy (what the field schemas cannot say alone). */
function policyProblems(policy: PolicyConfig): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const seen = new Set<PolicyKind>();
  policy.order.forEach((kind, i) => {
    if (!POLICY_KINDS.includes(kind)) return; // reported by the enum already
    if (seen.has(kind))
      problems.push({ path: ['order', i], message: `"${kind}" appears more than once in order; list each stage once` });
    seen.add(kind);
    if (policy[kind] === undefined)
      problems.push({
        path: ['order', i],
        message: `order lists "${kind}" but the policy has no "${kind}" options; add them or remove "${kind}" from order`,
      });
  });
  for (const kind of POLICY_KINDS) {
    if (policy[kind] !== undefined && !seen.has(kind)) {
      problems.push({
        path: [kind],
        message: `"${kind}" is configured but missing from order; add it to order (outermost first) or remove its options`,
      });
    }
  }
  if (policy.halfOpenAfterMs !== undefined && policy.breaker === undefined) {
    problems.push({
      path: ['halfOpenAfterMs'],
      message: 'halfOpenAfterMs is set but the policy has no breaker; add a breaker or remove halfOpenAfterMs',
    });
  }
  const retry = policy.retry;
  if (
    retry &&
    typeof retry.maxDelayMs === 'number' &&
    typeof retry.initialDelayMs === 'number' &&
    retry.maxDelayMs < retry.initialDelayMs
  ) {
    problems.push({
      path: ['retry', 'maxDelayMs'],
      message: `retry.maxDelayMs (${retry.maxDelayMs}) is smaller than retry.initialDelayMs (${retry.initialDelayMs}); raise maxDelayMs`,
    });
  }
  return problems;
}
