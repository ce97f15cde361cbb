/** @gantry/plugin-redis: one shared Redis connection per kernel. */
export { plugin } from './plugin.js';
export { RedisToken } from './tokens.js';
export { RedisErrors } from './errors.js';
export { RedisConnection, type PingResult, type RedisConnectionOptions } from './connection.js';
export { RedisKeyWatch, type InvalidationListener, type KeyWatch } from './key-watch.js';
export { redisConfigSchema, type RedisConfig } from './config.js';
