// Tokens of optional collaborators, declared by their global name (token() is Symbol.for): importing
// them from the plugins that provide them would make those plugins mandatory installs.
import { token } from '@gantry/core';
import type { Metrics } from '@gantry/plugin-metrics/tokens';

/** metrics' service, when that plugin is enabled. */
export const MetricsToken = token<Metrics>('gantry.metrics.Metrics');
