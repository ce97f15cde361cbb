import { definePlugin, KernelInfoToken, packageVersion } from '@gantry/core';
import { PolicyRegistry } from './circuit-breakers.js';
import { circuitBreakerConfigSchema } from './config.js';
import { registerBreakerMetrics } from './metrics.js';
import { DiscoveryToken } from './peer-tokens.js';
import { CircuitBreakersToken } from './tokens.js';

/** The `circuit-breaker` plugin: named cockatiel policies (timeout, retry, breaker, bulkhead) and a resilient HTTP client. */
export const plugin = definePlugin({
  name: 'circuit-breaker',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'Named resilience policies (timeout, retry, circuit breaker, bulkhead) and an HTTP client that uses them',
  optionalDependsOn: ['metrics'],
  provides: [CircuitBreakersToken],
  config: circuitBreakerConfigSchema,
  // New policy options (from a remote source such as Consul KV): the policies are built again by a
  // restart of this plugin's hook, and the plugins that depend on it restart after it. Breaker states
  // start over; nothing else is lost (policies hold no connection).
  onConfigChange: () => 'restart',
  register(ctx) {
    // Policies are plain objects (no I/O, no timers): build every one now, once, so the first
    // request pays nothing and other plugins can build their HTTP clients in their own register().
    // Discovery is looked up at call time: consul-config may register after this plugin.
    const breakers = new PolicyRegistry(ctx.config, ctx.logger, () => ctx.container.tryGet(DiscoveryToken));
    ctx.provide(CircuitBreakersToken, breakers);

    // Not critical: an open breaker means a dependency is down, not this instance. Taking the
    // instance out of rotation would spread the outage; report it as degraded instead.
    ctx.health.check(
      () => {
        const policies = breakers.states();
        const tripped = Object.entries(policies)
          .filter(([, s]) => s.state !== 'closed' && s.state !== 'none')
          .map(([name]) => name);
        return {
          status: tripped.length > 0 ? 'degraded' : 'up',
          details: { policies, ...(tripped.length > 0 ? { notClosed: tripped } : {}) },
        };
      },
      { critical: false },
    );

    if (ctx.container.get(KernelInfoToken).plugins.includes('metrics')) {
      registerBreakerMetrics({ container: ctx.container, breakers, pluginName: ctx.name });
    }

    // A restart for a config change (see onConfigChange) builds the policies again from the new options.
    ctx.lifecycle.hook({
      name: 'policies',
      start: () => breakers.rebuild(ctx.config),
      // Listeners (metrics) stay: they were added in register(), which a restart does not run again.
      stop: () => breakers.release(),
    });
  },
});
