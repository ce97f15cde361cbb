import { expect } from 'chai';
import { CircuitBreakersToken } from '../src/index.js';
import { useUpstream } from './harness.js';

describe('circuit-breaker: readiness', () => {
  const env = useUpstream();

  it('shows every policy in /readyz and reports an open breaker as degraded while staying ready', async () => {
    const kernel = await env.boot({
      policies: {
        payments: { order: ['breaker'], breaker: { kind: 'consecutive', threshold: 1 }, halfOpenAfterMs: 30_000 },
        search: { order: ['bulkhead'], bulkhead: { limit: 4 } },
      },
    });
    const before = await kernel.inject('/readyz');
    expect(before.statusCode).to.equal(200);
    expect(before.json().checks['circuit-breaker']).to.deep.include({
      status: 'up',
      critical: false,
      details: {
        policies: {
          payments: { state: 'closed' },
          search: { state: 'none', bulkhead: { active: 0, queued: 0, limit: 4, queue: 0 } },
        },
      },
    });

    env.upstream.always('fail');
    await kernel.inject('/api/v1/upstream/payments');
    const after = await kernel.inject('/readyz');
    expect(after.statusCode, 'an open breaker must not take the instance out of rotation').to.equal(200);
    const report = after.json();
    expect(report.status).to.equal('ready');
    const check = report.checks['circuit-breaker'];
    expect(check.status).to.equal('degraded');
    expect(check.details.notClosed).to.deep.equal(['payments']);
    expect(check.details.policies.payments.state).to.equal('open');
    expect(check.details.policies.payments.retryAfterSeconds).to.be.within(1, 30);
    expect(Date.parse(check.details.policies.payments.openedAt)).to.be.a('number').and.not.NaN;
    expect(check.details.policies.search.state).to.equal('none');
    expect(kernel.get(CircuitBreakersToken).states()).to.deep.equal(check.details.policies);
  });
});
