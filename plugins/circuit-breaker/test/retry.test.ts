import { expect } from 'chai';
import { CircuitBreakersToken } from '../src/index.js';
import { useUpstream } from './harness.js';

describe('circuit-breaker: retry', () => {
  const env = useUpstream();

  const retry = { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 };

  for (const jitter of ['none', 'full', 'decorrelated'] as const) {
    it(`retries with backoff until the upstream recovers (jitter ${jitter})`, async () => {
      const kernel = await env.boot({ policies: { payments: { order: ['retry'], retry: { ...retry, jitter } } } });
      env.upstream.next('fail', 'fail');
      const res = await kernel.inject('/api/v1/upstream/payments');
      expect(res.statusCode).to.equal(200);
      expect(res.json()).to.deep.equal({ status: 200, hit: 3 });
      expect(env.upstream.hits).to.equal(3);
    });
  }

  it('gives up after maxAttempts retries with 502 UPSTREAM_FAILED', async () => {
    const kernel = await env.boot({ policies: { payments: { order: ['retry'], retry } } });
    env.upstream.always({ status: 503 });
    const res = await kernel.inject('/api/v1/upstream/payments');
    expect(res.statusCode).to.equal(502);
    expect(res.json().code).to.equal('GANTRY_CIRCUIT_BREAKER_UPSTREAM_FAILED');
    expect(env.upstream.hits, 'one call plus three retries').to.equal(4);
  });

  it('retries 429 answers and returns other 4xx at once', async () => {
    const kernel = await env.boot({ policies: { payments: { order: ['retry'], retry } } });
    env.upstream.next({ status: 429 });
    expect((await kernel.inject('/api/v1/upstream/payments')).statusCode).to.equal(200);
    expect(env.upstream.hits).to.equal(2);
    env.upstream.reset();
    env.upstream.next({ status: 404 });
    expect((await kernel.inject('/api/v1/upstream/payments')).statusCode).to.equal(404);
    expect(env.upstream.hits).to.equal(1);
  });

  it('never retries an open breaker', async () => {
    const kernel = await env.boot({
      // The first backoff (25 ms) ends while the breaker is open; were the refusal retried, the later
      // backoffs (50, 100, 200 ms) would carry a retry past halfOpenAfterMs to a second upstream call.
      policies: {
        payments: {
          order: ['retry', 'breaker'],
          retry: { maxAttempts: 5, initialDelayMs: 25, maxDelayMs: 200, jitter: 'none' },
          breaker: { kind: 'consecutive', threshold: 1 },
          halfOpenAfterMs: 150,
        },
      },
    });
    env.upstream.always('fail');
    const res = await kernel.inject('/api/v1/upstream/payments');
    // The first failure opens the breaker; the retry then meets the open breaker and stops there.
    expect(res.statusCode).to.equal(503);
    expect(res.json().code).to.equal('GANTRY_CIRCUIT_BREAKER_OPEN');
    expect(env.upstream.hits).to.equal(1);
  });

  it('retries an attempt cut by a per-attempt timeout, aborting the hung request', async () => {
    const kernel = await env.boot({
      policies: { payments: { order: ['retry', 'timeout'], retry, timeout: { ms: 80 } } },
    });
    env.upstream.next('hang');
    const res = await kernel.inject('/api/v1/upstream/payments');
    expect(res.statusCode).to.equal(200);
    expect(env.upstream.hits).to.equal(2);
    await env.upstream.until((u) => u.aborted === 1);
  });

  it('a timeout around the retries bounds them all', async () => {
    const kernel = await env.boot({
      policies: {
        payments: { order: ['timeout', 'retry'], timeout: { ms: 100 }, retry: { ...retry, maxAttempts: 20 } },
      },
    });
    env.upstream.always('hang');
    const res = await kernel.inject('/api/v1/upstream/payments');
    expect(res.statusCode).to.equal(504);
    await env.upstream.until((u) => u.aborted === 1);
    expect(env.upstream.hits, 'the whole-call timeout stopped the retries').to.equal(1);
  });

  it('execute() passes the attempt number to the work and the attempt count to the error', async () => {
    const kernel = await env.boot({
      policies: { payments: { order: ['retry'], retry: { ...retry, maxAttempts: 2 } } },
    });
    const seen: number[] = [];
    const err = await kernel
      .get(CircuitBreakersToken)
      .execute('payments', (_signal, attempt) => {
        seen.push(attempt);
        throw new RangeError('nope');
      })
      .catch((e: unknown) => e as { details: Record<string, unknown> });
    expect(seen).to.deep.equal([0, 1, 2]);
    expect(err.details).to.deep.include({ policy: 'payments', attempts: 3 });
  });
});
