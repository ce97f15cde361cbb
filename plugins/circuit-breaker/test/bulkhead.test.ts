import type { TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { CircuitBreakersToken } from '../src/index.js';
import { boot, eventually } from './harness.js';
import { Upstream } from './upstream.js';

describe('circuit-breaker: bulkhead', () => {
  let upstream: Upstream;
  let kernel: TestKernel | undefined;

  before(async () => {
    upstream = await Upstream.start();
  });
  beforeEach(() => upstream.reset());
  afterEach(async () => {
    await kernel?.stop();
    kernel = undefined;
  });
  after(() => upstream.close());

  it('runs `limit` calls, queues `queue` more and rejects the rest with 503 and Retry-After', async () => {
    kernel = await boot({ upstream: upstream.url, policies: { search: { order: ['bulkhead'], bulkhead: { limit: 1, queue: 1 } } } });
    const breakers = kernel.get(CircuitBreakersToken);
    upstream.always('hang');
    const first = kernel.inject('/api/v1/upstream/search');
    const second = kernel.inject('/api/v1/upstream/search');
    await eventually(() => upstream.hits === 1 && breakers.state('search').bulkhead?.queued === 1, 'one call running and one queued');
    expect(breakers.state('search').bulkhead).to.deep.equal({ active: 1, queued: 1, limit: 1, queue: 1 });

    const third = await kernel.inject('/api/v1/upstream/search');
    expect(third.statusCode).to.equal(503);
    expect(third.json().code).to.equal('GANTRY_CIRCUIT_BREAKER_BULKHEAD_FULL');
    expect(third.headers['retry-after']).to.equal('1');
    expect(upstream.hits, 'the rejected call never reached the upstream').to.equal(1);

    upstream.always('ok');
    upstream.release();
    expect((await first).statusCode).to.equal(200);
    expect((await second).statusCode).to.equal(200);
    expect(upstream.hits).to.equal(2);
    expect(breakers.state('search').bulkhead).to.deep.equal({ active: 0, queued: 0, limit: 1, queue: 1 });
  });
});
