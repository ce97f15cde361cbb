import { defineErrors } from '@gantry/core';

/** Error registry of the circuit-breaker plugin (codes `GANTRY_CIRCUIT_BREAKER_*`). Retired codes are never reused. */
export const CircuitBreakerErrors = defineErrors('circuit-breaker', {
  OPEN: {
    status: 503,
    title: 'Circuit breaker is open',
    fix: 'the dependency behind this policy is failing; retry after the Retry-After delay',
  },
  BULKHEAD_FULL: {
    status: 503,
    title: 'Too many concurrent calls',
    fix: 'retry after the Retry-After delay, or raise bulkhead.limit / bulkhead.queue of the policy',
  },
  TIMEOUT: {
    status: 504,
    title: 'Upstream call timed out',
    fix: 'the dependency answered too slowly; raise timeout.ms of the policy or the request deadline (http.requestTimeoutMs) if it is legitimately slow',
  },
  UPSTREAM_FAILED: {
    status: 502,
    title: 'Upstream call failed',
    fix: 'the dependency failed on every attempt; check its health and the logged cause',
  },
  UNKNOWN_POLICY: {
    status: 500,
    title: 'Unknown circuit-breaker policy',
    fix: 'declare the policy under plugins["circuit-breaker"].policies, or correct the name used in code',
  },
  NO_HEALTHY_INSTANCE: {
    status: 503,
    title: 'No healthy instance of the service',
    fix: 'start an instance of that service and let its Consul check pass (discovery lists only instances whose checks pass), or correct the service name in the baseUrl',
  },
  HTTP_CLIENT_INVALID: {
    status: 500,
    title: 'HTTP client options are invalid',
    fix: 'pass an absolute http:// or https:// baseUrl to httpClient()',
  },
});
