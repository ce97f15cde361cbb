// The redis store without a Redis server (127.0.0.1 port 1 refuses at once), and the redis store
// without the redis plugin. The suite against the real Redis is redis.redis.test.ts.
import { plugin as metricsPlugin } from '@gantry/plugin-metrics';
import type { TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { boot, login } from './harness.js';

describe('rate-limit: redis store, Redis unreachable', () => {
  // The redis plugin's own check is not critical here: what is asserted is rate-limit's readiness.
  const unreachable = { url: 'redis://127.0.0.1:1', critical: false };
  const kernels: TestKernel[] = [];
  const start = async (options: Parameters<typeof boot>[0] = {}): Promise<TestKernel> => {
    const k = await boot({ ...options, redis: unreachable, rateLimit: { store: 'redis', ...options.rateLimit } });
    kernels.push(k);
    return k;
  };
  afterEach(async () => {
    while (kernels.length > 0) await kernels.pop()!.stop();
  });

  it('still boots; the default policy fails open, named policies answer 503; readiness reports it without leaving rotation', async () => {
    const kernel = await start({ extra: [metricsPlugin] });

    const notes = await kernel.inject('/api/v1/notes');
    expect(notes.statusCode, 'default policy: fail open').to.equal(200);
    expect(notes.headers['ratelimit'], 'nothing was counted').to.equal(undefined);

    const refused = await login(kernel);
    expect(refused.statusCode, 'auth policy: fail closed').to.equal(503);
    expect(refused.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).to.equal('5');
    expect(refused.json()).to.include({ code: 'GANTRY_RATE_LIMIT_UNAVAILABLE', policy: 'auth' });
    expect(refused.json().detail, 'no Redis detail reaches the client').not.to.match(/127\.0\.0\.1|ECONN|redis/i);

    const ready = await kernel.inject('/readyz');
    expect(ready.statusCode, 'non-critical: the instance stays in rotation').to.equal(200);
    expect(ready.json().checks['rate-limit']).to.deep.include({
      status: 'degraded',
      critical: false,
      details: {
        store: 'redis',
        error: 'ECONNREFUSED',
        failClosed: [
          'auth',
          'password-change',
          'mfa',
          'signup',
          'verify-email',
          'verify-resend',
          'password-forgot',
          'password-reset',
          'reset',
          'refresh',
          'search',
        ],
      },
    });

    const metrics = (await kernel.inject('/metrics')).body;
    expect(metrics).to.contain('rate_limit_store_unavailable_total{policy="default",outcome="allowed"} 1');
    expect(metrics).to.contain('rate_limit_store_unavailable_total{policy="auth",outcome="refused"} 1');
  });

  it('with failOpen false on the default policy, every limited route answers 503 and readiness fails', async () => {
    const kernel = await start({
      rateLimit: {
        default: { windowMs: 60_000, limit: 100, failOpen: false },
        policies: { auth: { windowMs: 60_000, limit: 10, failOpen: true } },
      },
    });
    const notes = await kernel.inject('/api/v1/notes');
    expect(notes.statusCode).to.equal(503);
    expect(notes.json().code).to.equal('GANTRY_RATE_LIMIT_UNAVAILABLE');
    expect((await login(kernel)).statusCode, 'auth told to fail open').to.equal(200);
    expect((await kernel.inject('/api/v1/webhook')).statusCode, 'exempt routes never touch the store').to.equal(200);
    const ready = await kernel.inject('/readyz');
    expect(ready.statusCode).to.equal(503);
    expect(ready.json().checks['rate-limit']).to.deep.include({ status: 'down', critical: true });
  });
});

describe('rate-limit: redis store without the redis plugin', () => {
  for (const [label, options] of [
    ['store "redis"', { rateLimit: { store: 'redis' } }],
    ['the default store outside the embedded profile', { profile: 'compose', rateLimit: {} }],
  ] as const) {
    it(`refuses to boot with ${label}, saying how to fix it`, async () => {
      let failure: unknown;
      try {
        await (await boot(options)).stop();
      } catch (err) {
        failure = err;
      }
      // Found by validate(), with the other problems of the setup, before anything registers.
      const refusal = failure as { code?: string; message?: string; details?: { codes?: string[] } } | undefined;
      expect(refusal?.details?.codes, String(failure)).to.deep.equal(['GANTRY_RATE_LIMIT_REDIS_REQUIRED']);
      expect(refusal?.message).to.include('"redis" plugin is not enabled');
      expect(refusal?.message).to.include('Fix: enable the "redis" plugin');
    });
  }

  it('refuses the retired redisUrl and commandTimeoutMs options at boot (they belong to the redis plugin now)', async () => {
    let failure: unknown;
    try {
      await (
        await boot({ rateLimit: { store: 'memory', redisUrl: 'redis://127.0.0.1:6379', commandTimeoutMs: 500 } })
      ).stop();
    } catch (err) {
      failure = err;
    }
    expect((failure as { code?: string } | undefined)?.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect((failure as Error).message)
      .to.include('redisUrl')
      .and.include('commandTimeoutMs');
  });
});
