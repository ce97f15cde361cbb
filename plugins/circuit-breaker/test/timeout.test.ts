import { expect } from 'chai';
import { CircuitBreakerErrors, CircuitBreakersToken } from '../src/index.js';
import { sleep, useUpstream } from './harness.js';

describe('circuit-breaker: timeouts and the request deadline', () => {
  const env = useUpstream();

  for (const strategy of ['aggressive', 'cooperative'] as const) {
    it(`a hanging upstream gives 504 TIMEOUT and the upstream request is aborted (${strategy})`, async () => {
      const kernel = await env.boot({ policies: { slow: { order: ['timeout'], timeout: { ms: 100, strategy } } } });
      env.upstream.always('hang');
      const res = await kernel.inject('/api/v1/upstream/slow');
      expect(res.statusCode).to.equal(504);
      const problem = res.json();
      expect(problem.code).to.equal('GANTRY_CIRCUIT_BREAKER_TIMEOUT');
      expect(problem.reason).to.equal('timeout');
      expect(problem.timeoutMs).to.equal(100);
      // The server sees the client close its connection: the work really stopped.
      await env.upstream.until((u) => u.aborted === 1);
      expect(env.upstream.hits).to.equal(1);
    });
  }

  it('timeouts count as breaker failures when the breaker wraps the timeout', async () => {
    const kernel = await env.boot({
      policies: {
        slow: {
          order: ['breaker', 'timeout'],
          breaker: { kind: 'consecutive', threshold: 2 },
          halfOpenAfterMs: 10_000,
          timeout: { ms: 50 },
        },
      },
    });
    env.upstream.always('hang');
    expect((await kernel.inject('/api/v1/upstream/slow')).statusCode).to.equal(504);
    expect((await kernel.inject('/api/v1/upstream/slow')).statusCode).to.equal(504);
    const refused = await kernel.inject('/api/v1/upstream/slow');
    expect(refused.statusCode).to.equal(503);
    expect(refused.json().code).to.equal('GANTRY_CIRCUIT_BREAKER_OPEN');
    expect(env.upstream.hits).to.equal(2);
  });

  it('aborts the upstream call at the request deadline (http.requestTimeoutMs) and does not blame the dependency', async () => {
    const kernel = await env.boot({
      http: { requestTimeoutMs: 150 },
      // No timeout stage: only the request deadline can end the call.
      policies: { payments: { order: ['breaker'], breaker: { kind: 'consecutive', threshold: 1 } } },
    });
    env.upstream.always('hang');
    const res = await kernel.inject('/api/v1/upstream/payments');
    expect(res.statusCode).to.equal(504);
    expect(res.json().code).to.equal('GANTRY_CIRCUIT_BREAKER_TIMEOUT');
    expect(res.json().reason).to.equal('deadline');
    await env.upstream.until((u) => u.aborted === 1);
    // The caller ran out of time; the dependency did not fail: a threshold of 1 leaves it closed.
    expect(kernel.get(CircuitBreakersToken).state('payments').state).to.equal('closed');
  });

  it('does not retry after the deadline, even when the deadline falls in a backoff', async () => {
    const kernel = await env.boot({
      http: { requestTimeoutMs: 150 },
      policies: {
        payments: { order: ['retry'], retry: { maxAttempts: 3, initialDelayMs: 300, maxDelayMs: 300, jitter: 'none' } },
      },
    });
    env.upstream.always('fail');
    const res = await kernel.inject('/api/v1/upstream/payments');
    expect(res.statusCode, 'answered at the deadline, not after the 300 ms backoff').to.equal(504);
    // Let the backoff end: cockatiel would call again here; the plugin must not.
    await sleep(400);
    expect(env.upstream.hits).to.equal(1);
  });

  it('execute() combines the caller signal: aborting it aborts the work and rethrows the caller reason', async () => {
    const kernel = await env.boot({
      policies: { db: { order: ['breaker'], breaker: { kind: 'consecutive', threshold: 1 } } },
    });
    const breakers = kernel.get(CircuitBreakersToken);
    const controller = new AbortController();
    let workSignal: AbortSignal | undefined;
    const running = breakers.execute(
      'db',
      (signal) =>
        new Promise((_, reject) => {
          workSignal = signal;
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
      { signal: controller.signal },
    );
    const reason = new Error('user cancelled');
    controller.abort(reason);
    expect(await running.catch((e: unknown) => e)).to.equal(reason);
    expect(workSignal?.aborted).to.equal(true);
    expect(breakers.state('db').state).to.equal('closed');
    // An already-aborted signal never starts the work.
    let ran = false;
    const again = await breakers
      .execute('db', () => (ran = true), { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(again).to.equal(reason);
    expect(ran).to.equal(false);
  });

  it('execute() settles at the caller abort even when the work ignores its signal', async () => {
    const kernel = await env.boot({ policies: { db: { order: ['bulkhead'], bulkhead: { limit: 1 } } } });
    const controller = new AbortController();
    const running = kernel
      .get(CircuitBreakersToken)
      .execute('db', () => new Promise<never>(() => undefined), { signal: controller.signal });
    const reason = new Error('gave up');
    controller.abort(reason);
    expect(await running.catch((e: unknown) => e)).to.equal(reason);
  });

  it('execute() starts no attempt after the caller aborted during a backoff, even for work that ignores its signal', async () => {
    const kernel = await env.boot({
      policies: {
        db: { order: ['retry'], retry: { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 100, jitter: 'none' } },
      },
    });
    const controller = new AbortController();
    let calls = 0;
    const running = kernel.get(CircuitBreakersToken).execute(
      'db',
      () => {
        calls++;
        setImmediate(() => controller.abort(new Error('gave up')));
        throw new RangeError('flaky');
      },
      { signal: controller.signal },
    );
    expect(await running.catch((e: unknown) => (e as Error).message)).to.equal('gave up');
    // Let the 100 ms backoff end: cockatiel would now call the work again with an aborted signal.
    await sleep(150);
    expect(calls).to.equal(1);
  });

  it('execute() maps an aggressive timeout of work that ignores its signal to TIMEOUT', async () => {
    const kernel = await env.boot({ policies: { db: { order: ['timeout'], timeout: { ms: 30 } } } });
    const err = await kernel
      .get(CircuitBreakersToken)
      .execute('db', () => sleep(200))
      .catch((e: unknown) => e);
    expect(CircuitBreakerErrors.TIMEOUT.is(err)).to.equal(true);
  });
});
