import { definePlugin, KernelInfoToken, packageVersion } from '@gantry/core';
import { PolicyRegistry } from './circuit-breakers.js';
import { circuitBreakerConfigSchema } from './config.js';
import { registerBreakerMetrics } from './metrics.js';
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
  register(ctx) {
    // Policies are plain objects (no I/O, no timers): build every one now, once, so the first
    // request pays nothing and other plugins can build their HTTP clients in their own register().
    const breakers = new PolicyRegistry(ctx.config, ctx.logger);
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

    ctx.lifecycle.hook({ name: 'policies', stop: () => breakers.dispose() });
  },
});
