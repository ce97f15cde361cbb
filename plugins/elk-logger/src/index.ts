/** @gantry/plugin-elk-logger: winston + ECS as the application's logger, shipped to Logstash and Elasticsearch. */
export { plugin } from './plugin.js';
export { ElkShippingToken } from './tokens.js';
export { ElkLoggerErrors } from './errors.js';
export { elkLoggerConfigSchema, type ElkLoggerConfig } from './config.js';
export { ElkLogger, TRACE_ID } from './logger.js';
export { BoundedQueue } from './queue.js';
export type { ElkShipping, TransportStats } from './shipping.js';
