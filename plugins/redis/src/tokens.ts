import { token } from '@gantry/core';
import type { RedisConnection } from './connection.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { RedisConnection } from './connection.js';

/** The kernel's shared Redis connection: `run()` commands (503 on failure), `client()`, `call()`, `ping()`. */
export const RedisToken = token<RedisConnection>('gantry.redis.Connection');
