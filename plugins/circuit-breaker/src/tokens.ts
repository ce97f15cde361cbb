import { token } from '@gantry/core';
import type { CircuitBreakers } from './circuit-breakers.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { CircuitBreakers } from './circuit-breakers.js';

/** The named resilience policies of the `circuit-breaker` plugin: execute(), state(), httpClient(). */
export const CircuitBreakersToken = token<CircuitBreakers>('gantry.circuit-breaker.CircuitBreakers');
