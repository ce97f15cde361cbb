import { CoreErrors } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { CircuitBreakersToken, plugin } from '../src/index.js';

/** Boots with these circuit-breaker options and returns the boot error's message (or fails). */
async function bootError(options: Record<string, unknown>, env?: NodeJS.ProcessEnv): Promise<string> {
  const err = await createTestKernel({ plugins: [plugin], config: { 'circuit-breaker': options }, env }).then(
    async (k) => {
      await k.stop();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(CoreErrors.BOOT_INVALID.is(err), 'the kernel must refuse to boot with GANTRY_CORE_BOOT_INVALID').to.equal(
    true,
  );
  return (err as Error).message;
}

describe('circuit-breaker: config validation', () => {
  it('refuses an order that lists a stage the policy does not configure', async () => {
    const message = await bootError({
      policies: { payments: { order: ['retry', 'breaker'], retry: { maxAttempts: 2 } } },
    });
    expect(message)
      .to.contain('policy "payments"')
      .and.contain('order lists "breaker" but the policy has no "breaker" options');
  });

  it('refuses a configured stage missing from order', async () => {
    const message = await bootError({
      policies: { payments: { order: ['timeout'], timeout: { ms: 100 }, bulkhead: { limit: 2 } } },
    });
    expect(message).to.contain('policy "payments"').and.contain('"bulkhead" is configured but missing from order');
  });

  it('refuses a stage listed twice and an unknown stage', async () => {
    const twice = await bootError({ policies: { payments: { order: ['timeout', 'timeout'], timeout: { ms: 100 } } } });
    expect(twice).to.contain('policy "payments"').and.contain('"timeout" appears more than once');
    const unknown = await bootError({ policies: { payments: { order: ['fallback'] } } });
    expect(unknown).to.contain('policies.payments.order.0');
  });

  it('reports the problems of every policy at once', async () => {
    const message = await bootError({
      policies: {
        payments: { order: ['breaker'], breaker: { kind: 'sampling', threshold: 1.5 } },
        search: { order: ['retry'], retry: { maxAttempts: 2, initialDelayMs: 500, maxDelayMs: 100 } },
        orders: { order: ['timeout'], timeout: { ms: 10 }, halfOpenAfterMs: 100 },
      },
    });
    expect(message).to.contain('policies.payments.breaker.threshold');
    expect(message).to.contain('policy "search": retry.maxDelayMs (100) is smaller than retry.initialDelayMs (500)');
    expect(message).to.contain('policy "orders": halfOpenAfterMs is set but the policy has no breaker');
    expect(message).to.match(/3 problems/);
  });

  it('refuses out-of-range values, unknown keys and bad policy names', async () => {
    const message = await bootError({
      policies: {
        payments: { order: ['bulkhead', 'retry'], bulkhead: { limit: 0 }, retry: { maxAttempts: 0, jitter: 'lots' } },
        'bad name': { order: ['timeout'], timeout: { ms: 5, extra: true } },
      },
    });
    expect(message).to.contain('policies.payments.bulkhead.limit');
    expect(message).to.contain('policies.payments.retry.maxAttempts');
    expect(message).to.contain('policies.payments.retry.jitter');
    expect(message).to.contain('policy name "bad name" must start with a letter');
    expect(message).to.match(/extra/);
  });

  it('boots with no policies, and with policies given through the environment', async () => {
    const empty = await createTestKernel({ plugins: [plugin] });
    expect(empty.get(CircuitBreakersToken).names()).to.deep.equal([]);
    await empty.stop();

    const policies = {
      payments: {
        order: ['bulkhead', 'retry', 'breaker', 'timeout'],
        bulkhead: { limit: 5, queue: 10 },
        retry: { maxAttempts: 2 },
        breaker: { kind: 'consecutive', threshold: 5 },
        halfOpenAfterMs: 1_000,
        timeout: { ms: 500 },
      },
    };
    const fromEnv = await createTestKernel({
      plugins: [httpPlugin, plugin],
      env: { GANTRY_CIRCUIT_BREAKER__POLICIES: JSON.stringify(policies) },
    });
    expect(fromEnv.get(CircuitBreakersToken).names()).to.deep.equal(['payments']);
    expect(fromEnv.get(CircuitBreakersToken).state('payments')).to.deep.equal({
      state: 'closed',
      bulkhead: { active: 0, queued: 0, limit: 5, queue: 10 },
    });
    await fromEnv.stop();
  });
});
