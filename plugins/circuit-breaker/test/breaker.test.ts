import { GantryError } from '@gantry/core';
import { expect } from 'chai';
import { CircuitBreakerErrors, CircuitBreakersToken, type StateChange } from '../src/index.js';
import { sleep, useUpstream } from './harness.js';

describe('circuit-breaker: breaker', () => {
  const env = useUpstream();

  const consecutive = {
    order: ['breaker' as const],
    breaker: { kind: 'consecutive' as const, threshold: 3 },
    halfOpenAfterMs: 200,
  };

  it('opens after consecutive failures and then refuses calls with 503, Retry-After and no upstream call', async () => {
    const kernel = await env.boot({ policies: { payments: consecutive } });
    env.upstream.always('fail');
    for (let i = 0; i < 3; i++) {
      const res = await kernel.inject('/api/v1/upstream/payments');
      expect(res.statusCode).to.equal(502);
      expect(res.json().code).to.equal('GANTRY_CIRCUIT_BREAKER_UPSTREAM_FAILED');
    }
    expect(env.upstream.hits).to.equal(3);

    const refused = await kernel.inject('/api/v1/upstream/payments');
    expect(refused.statusCode).to.equal(503);
    expect(refused.headers['content-type']).to.match(/^application\/problem\+json/);
    const problem = refused.json();
    expect(problem.code).to.equal('GANTRY_CIRCUIT_BREAKER_OPEN');
    expect(problem.policy).to.equal('payments');
    // halfOpenAfterMs is 200: the header rounds up to whole seconds and is never 0.
    expect(refused.headers['retry-after']).to.equal('1');
    expect(env.upstream.hits, 'an open breaker must not call the upstream').to.equal(3);
    expect(kernel.get(CircuitBreakersToken).state('payments').state).to.equal('open');
  });

  it('half-opens after halfOpenAfterMs and a successful trial closes it, without a restart', async () => {
    const kernel = await env.boot({ policies: { payments: consecutive } });
    const breakers = kernel.get(CircuitBreakersToken);
    env.upstream.always('fail');
    for (let i = 0; i < 3; i++) await kernel.inject('/api/v1/upstream/payments');
    expect(breakers.state('payments').state).to.equal('open');

    env.upstream.always('ok');
    expect((await kernel.inject('/api/v1/upstream/payments')).statusCode, 'still open before halfOpenAfterMs').to.equal(
      503,
    );
    await sleep(250);
    const trial = await kernel.inject('/api/v1/upstream/payments');
    expect(trial.statusCode).to.equal(200);
    expect(breakers.state('payments').state).to.equal('closed');
    expect((await kernel.inject('/api/v1/upstream/payments')).statusCode).to.equal(200);
    expect(env.upstream.hits).to.equal(5);
  });

  it('a failed trial opens the breaker again', async () => {
    const kernel = await env.boot({ policies: { payments: consecutive } });
    env.upstream.always('fail');
    for (let i = 0; i < 3; i++) await kernel.inject('/api/v1/upstream/payments');
    await sleep(250);
    expect(
      (await kernel.inject('/api/v1/upstream/payments')).statusCode,
      'the trial call reaches the failing upstream',
    ).to.equal(502);
    expect((await kernel.inject('/api/v1/upstream/payments')).statusCode).to.equal(503);
    expect(env.upstream.hits).to.equal(4);
  });

  it('does not count 4xx answers as failures: they are returned as they are', async () => {
    const kernel = await env.boot({
      policies: { payments: { ...consecutive, breaker: { kind: 'consecutive', threshold: 1 } } },
    });
    env.upstream.always({ status: 404 });
    for (let i = 0; i < 4; i++) {
      const res = await kernel.inject('/api/v1/upstream/payments');
      expect(res.statusCode).to.equal(404);
      expect(res.json()).to.deep.equal({ status: 404, hit: i + 1 });
    }
    expect(kernel.get(CircuitBreakersToken).state('payments').state).to.equal('closed');
  });

  it('a sampling breaker opens when the failure rate in its window passes the threshold', async () => {
    const kernel = await env.boot({
      policies: {
        orders: {
          order: ['breaker'],
          breaker: { kind: 'sampling', threshold: 0.5, durationMs: 1_000, minimumRps: 4 },
          halfOpenAfterMs: 10_000,
        },
      },
    });
    const breakers = kernel.get(CircuitBreakersToken);
    // The window needs 1 s × 4 rps = 4 calls before it may open.
    env.upstream.next('ok', 'fail', 'fail', 'fail');
    for (let i = 0; i < 4; i++) await kernel.inject('/api/v1/upstream/orders');
    expect(breakers.state('orders').state).to.equal('open');
    const refused = await kernel.inject('/api/v1/upstream/orders');
    expect(refused.statusCode).to.equal(503);
    expect(Number(refused.headers['retry-after'])).to.be.within(1, 10);
  });

  it('a sampling breaker stays closed below its minimum rate', async () => {
    const kernel = await env.boot({
      policies: {
        orders: {
          order: ['breaker'],
          breaker: { kind: 'sampling', threshold: 0.5, durationMs: 1_000, minimumRps: 20 },
        },
      },
    });
    env.upstream.always('fail');
    for (let i = 0; i < 5; i++) await kernel.inject('/api/v1/upstream/orders');
    expect(kernel.get(CircuitBreakersToken).state('orders').state).to.equal('closed');
  });

  it('reports transitions to onStateChange listeners', async () => {
    const kernel = await env.boot({
      policies: { payments: { ...consecutive, breaker: { kind: 'consecutive', threshold: 1 } } },
    });
    const changes: StateChange[] = [];
    const unsubscribe = kernel.get(CircuitBreakersToken).onStateChange((c) => changes.push(c));
    env.upstream.next('fail');
    await kernel.inject('/api/v1/upstream/payments');
    await sleep(250);
    await kernel.inject('/api/v1/upstream/payments');
    unsubscribe();
    expect(changes).to.deep.equal([
      { policy: 'payments', state: 'open' },
      { policy: 'payments', state: 'half-open' },
      { policy: 'payments', state: 'closed' },
    ]);
  });

  describe('execute()', () => {
    it('turns a failing work into UPSTREAM_FAILED and counts it', async () => {
      const kernel = await env.boot({
        policies: { db: { order: ['breaker'], breaker: { kind: 'consecutive', threshold: 2 } } },
      });
      const breakers = kernel.get(CircuitBreakersToken);
      const boom = (): never => {
        throw new TypeError('connection refused');
      };
      const err = await breakers.execute('db', boom).catch((e: unknown) => e);
      expect(CircuitBreakerErrors.UPSTREAM_FAILED.is(err)).to.equal(true);
      expect((err as GantryError).status).to.equal(502);
      expect((err as GantryError).cause).to.be.instanceOf(TypeError);
      await breakers.execute('db', boom).catch(() => undefined);
      const refused = await breakers.execute('db', () => 'never runs').catch((e: unknown) => e);
      expect(CircuitBreakerErrors.OPEN.is(refused)).to.equal(true);
      expect((refused as GantryError).headers['Retry-After']).to.match(/^[1-9]\d*$/);
    });

    it('passes a 4xx GantryError through unchanged without counting it', async () => {
      const kernel = await env.boot({
        policies: { db: { order: ['breaker'], breaker: { kind: 'consecutive', threshold: 1 } } },
      });
      const breakers = kernel.get(CircuitBreakersToken);
      const conflict = new GantryError('GANTRY_TEST_CONFLICT', { status: 409, title: 'Conflict' }, 'already exists');
      const err = await breakers.execute('db', () => Promise.reject(conflict)).catch((e: unknown) => e);
      expect(err).to.equal(conflict);
      expect(breakers.state('db').state).to.equal('closed');
      expect(await breakers.execute('db', () => 42)).to.equal(42);
    });

    it('rejects an undeclared policy name with UNKNOWN_POLICY naming the declared ones', async () => {
      const kernel = await env.boot({ policies: { db: consecutive } });
      const breakers = kernel.get(CircuitBreakersToken);
      const err = await breakers.execute('dbb', () => 1).catch((e: unknown) => e);
      expect(CircuitBreakerErrors.UNKNOWN_POLICY.is(err)).to.equal(true);
      expect((err as Error).message)
        .to.contain('"dbb"')
        .and.contain('"db"');
      expect(() => breakers.state('dbb')).to.throw(/no policy named "dbb"/);
      expect(() => breakers.httpClient('dbb', { baseUrl: env.upstream.url })).to.throw(/no policy named "dbb"/);
    });
  });
});
