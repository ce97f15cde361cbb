import { token } from '@gantry/core';
import type { CircuitBreakers } from './circuit-breakers.js';

/** The named resilience policies of the `circuit-breaker` plugin: execute(), state(), httpClient(). */
export const CircuitBreakersToken = token<CircuitBreakers>('gantry.circuit-breaker.CircuitBreakers');
