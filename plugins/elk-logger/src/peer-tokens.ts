// Tokens of optional collaborators, declared here by their global name (token() is Symbol.for):
// importing them from the plugins that provide them would make those plugins mandatory installs
// (and load prom-client into applications without metrics).
import { token } from '@gantry/core';
import type { Metrics } from '@gantry/plugin-metrics/tokens';

/** metrics' {@link Metrics} service, when that plugin is enabled. */
export const MetricsToken = token<Metrics>('gantry.metrics.Metrics');
