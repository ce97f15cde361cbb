import { expect } from 'chai';
import { CircuitBreakersToken } from '../src/index.js';
import { eventually, useUpstream } from './harness.js';

describe('circuit-breaker: bulkhead', () => {
  const env = useUpstream();

  it('runs `limit` calls, queues `queue` more and rejects the rest with 503 and Retry-After', async () => {
    const kernel = await env.boot({ policies: { search: { order: ['bulkhead'], bulkhead: { limit: 1, queue: 1 } } } });
    const breakers = kernel.get(CircuitBreakersToken);
    env.upstream.always('hang');
    const first = kernel.inject('/api/v1/upstream/search');
    const second = kernel.inject('/api/v1/upstream/search');
    await eventually(
      () => env.upstream.hits === 1 && breakers.state('search').bulkhead?.queued === 1,
      'one call running and one queued',
    );
    expect(breakers.state('search').bulkhead).to.deep.equal({ active: 1, queued: 1, limit: 1, queue: 1 });

    const third = await kernel.inject('/api/v1/upstream/search');
    expect(third.statusCode).to.equal(503);
    expect(third.json().code).to.equal('GANTRY_CIRCUIT_BREAKER_BULKHEAD_FULL');
    expect(third.headers['retry-after']).to.equal('1');
    expect(env.upstream.hits, 'the rejected call never reached the upstream').to.equal(1);

    env.upstream.always('ok');
    env.upstream.release();
    expect((await first).statusCode).to.equal(200);
    expect((await second).statusCode).to.equal(200);
    expect(env.upstream.hits).to.equal(2);
    expect(breakers.state('search').bulkhead).to.deep.equal({ active: 0, queued: 0, limit: 1, queue: 1 });
  });
});
