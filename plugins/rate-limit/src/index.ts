/** @gantry/plugin-rate-limit: per-route rate limits for Gantry (express-rate-limit, memory or shared Redis store). */
export { plugin } from './plugin.js';
export { RateLimitsToken } from './tokens.js';
export { RateLimitErrors } from './errors.js';
export {
  accountCounterSchema,
  BUILTIN_POLICIES,
  COUNT_MODES,
  counterSchema,
  DEFAULT_POLICY,
  delaySchema,
  KEY_BY,
  MAX_KNOWN_SOURCE_MS,
  POLICY_NAME,
  policySchema,
  rateLimitConfigSchema,
  type AccountCounterConfig,
  type CounterConfig,
  type CountMode,
  type DelayConfig,
  type PolicyConfig,
  type PolicyOptions,
  type RateLimitConfig,
  type RateLimitOptions,
} from './config.js';
export type {
  CounterKind,
  RateLimitAccountCounter,
  RateLimitCounter,
  RateLimitHit,
  RateLimitPolicy,
  RateLimits,
  StoreKind,
} from './rate-limits.js';
