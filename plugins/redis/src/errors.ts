import { defineErrors } from '@gantry/core';

/** Error registry of the `redis` plugin (codes `GANTRY_REDIS_<REASON>`). */
export const RedisErrors = defineErrors('redis', {
  UNAVAILABLE: {
    status: 503,
    title: 'Redis unavailable',
    fix: 'retry later; operators: check that Redis is up and reachable (see /readyz)',
  },
  REQUIRED: {
    status: 500,
    title: 'The redis plugin is required',
    fix: 'enable the "redis" plugin (plugins.redis in the config), or choose the memory store for this plugin',
  },
});
