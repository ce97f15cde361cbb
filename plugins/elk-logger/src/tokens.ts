import { token } from '@gantry/core';
import type { ElkShipping } from './shipping.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { ElkShipping } from './shipping.js';

/** What elk-logger ships and drops, per transport (health details, metrics, tests). */
export const ElkShippingToken = token<ElkShipping>('gantry.elk-logger.Shipping');
