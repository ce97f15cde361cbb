/** @gantry/plugin-circuit-breaker: named resilience policies and a resilient HTTP client for Gantry. */
export { plugin } from './plugin.js';
export { CircuitBreakersToken } from './tokens.js';
export { CircuitBreakerErrors } from './errors.js';
export {
  breakerSchema,
  bulkheadSchema,
  circuitBreakerConfigSchema,
  policySchema,
  POLICY_KINDS,
  retrySchema,
  timeoutSchema,
  type CircuitBreakerConfig,
  type CircuitBreakerOptions,
  type PolicyConfig,
  type PolicyKind,
  type PolicyOptions,
} from './config.js';
export type {
  BreakerState,
  CircuitBreakers,
  ExecuteOptions,
  PolicyState,
  PolicyWork,
  StateChange,
} from './circuit-breakers.js';
export {
  defaultIsFailureStatus,
  type HttpClient,
  type HttpClientOptions,
  type HttpMethodInit,
  type HttpRequestInit,
} from './http-client.js';
