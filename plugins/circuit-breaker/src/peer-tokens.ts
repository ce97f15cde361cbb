// Tokens of optional collaborators, declared here by their global name (token() is Symbol.for):
// importing them from the plugins that provide them would make those plugins mandatory installs
// (and load prom-client into applications without metrics).
import { token } from '@gantry/core';
import type { Metrics } from '@gantry/plugin-metrics/tokens';
import type { ServiceResolver } from './http-client.js';

/** metrics' {@link Metrics} service, when that plugin is enabled. */
export const MetricsToken = token<Metrics>('gantry.metrics.Metrics');

/** consul-config's Discovery (healthy instances of a service), when that plugin is enabled. */
export const DiscoveryToken = token<ServiceResolver>('gantry.consul-config.Discovery');
