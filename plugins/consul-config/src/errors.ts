import { defineErrors } from '@gantry/core';

/** Error registry of the consul-config plugin (codes `GANTRY_CONSUL_CONFIG_*`). Retired codes are never reused. */
export const ConsulConfigErrors = defineErrors('consul-config', {
  UNREACHABLE: {
    status: 503,
    title: 'Consul is unreachable',
    fix: 'start the Consul agent or correct plugins["consul-config"].url; set required: false to start on local config while Consul is away',
  },
  REGISTRATION_FAILED: {
    status: 503,
    title: 'Service registration in Consul failed',
    fix: 'check the Consul agent is reachable and accepts the registration (see the logged cause); it is retried in the background',
  },
  ADDRESS_UNKNOWN: {
    status: 500,
    title: 'The address to register is unknown',
    fix: 'enable the "http" plugin and let it listen, or set register.address and register.port',
  },
  NO_HEALTHY_INSTANCE: {
    status: 503,
    title: 'No healthy instance of the service',
    fix: 'start an instance of that service and let its Consul check pass, or check the service name',
  },
  DISCOVERY_TIMEOUT: {
    status: 503,
    title: 'Service discovery did not answer in time',
    fix: 'check the Consul agent is reachable (see readiness) or raise discovery.resolveTimeoutMs',
  },
});
