/** @gantry/plugin-rate-limit: per-route rate limits for Gantry (express-rate-limit, memory or shared Redis store). */
export { plugin } from './plugin.js';
export { RateLimitsToken } from './tokens.js';
export { RateLimitErrors } from './errors.js';
export {
  BUILTIN_POLICIES,
  DEFAULT_POLICY,
  KEY_BY,
  POLICY_NAME,
  policySchema,
  rateLimitConfigSchema,
  type PolicyConfig,
  type PolicyOptions,
  type RateLimitConfig,
  type RateLimitOptions,
} from './config.js';
export type { RateLimitPolicy, RateLimits, StoreKind } from './rate-limits.js';
