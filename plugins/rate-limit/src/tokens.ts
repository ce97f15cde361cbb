import { token } from '@gantry/core';
import type { RateLimits } from './rate-limits.js';

/** The rate limits of the `rate-limit` plugin: its policies, which one guards a route, reset(). */
export const RateLimitsToken = token<RateLimits>('gantry.rate-limit.RateLimits');
