import { token } from '@gantry/core';
import type { RateLimits } from './rate-limits.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { RateLimits } from './rate-limits.js';

/** The rate limits of the `rate-limit` plugin: its policies, which one guards a route, reset(). */
export const RateLimitsToken = token<RateLimits>('gantry.rate-limit.RateLimits');
