import { token } from '@gantry/core';
import type { Discovery } from './discovery.js';
// The types the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Discovery, ServiceInstance } from './discovery.js';

/**
 * Healthy instances of a service from Consul's health API, watched by blocking query and cached:
 * `resolve(name)`. The circuit-breaker plugin's HTTP client uses it for `http://<service>/path`.
 */
export const DiscoveryToken = token<Discovery>('gantry.consul-config.Discovery');
