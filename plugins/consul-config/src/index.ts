/** @gantry/plugin-consul-config: plugin options from Consul KV, registration with a /readyz check, discovery. */
export { plugin, appName, kvFolder } from './plugin.js';
export { consulConfigSchema, type ConsulConfigOptions } from './config.js';
export { ConsulConfigErrors } from './errors.js';
export { DiscoveryToken, type Discovery, type ServiceInstance } from './tokens.js';
export { ConsulKvSource, layerFromEntries, type KvEntry } from './kv-source.js';
export { ConsulDiscovery } from './discovery.js';
export { backoffDelay } from './backoff.js';
