import { token } from '@gantry/core';
import type { Metrics } from './metrics-service.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Metrics } from './metrics-service.js';

/** The kernel's metrics service: its registry and per-plugin prefixed metric factories. */
export const MetricsToken = token<Metrics>('gantry.metrics.Metrics');
