import { gzipSync } from 'node:zlib';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as metricsPlugin } from '@gantry/plugin-metrics';
import { createTestKernel, type TestKernel, memoryLogger, type LogLine } from '@gantry/testing';
import { expect } from 'chai';
import { plugin, RateLimitErrors, RateLimitsToken } from '../src/index.js';
import { boot, CLASSIC_AUTH, PASSWORD, expectRateLimited, header, login, repeat, routeDeclaring } from './harness.js';

const CLASSIC = { store: 'memory', policies: { auth: CLASSIC_AUTH } };

describe('rate-limit: memory store', () => {
  const kernels: TestKernel[] = [];
  const start = async (...args: Parameters<typeof boot>): Promise<TestKernel> => {
    const k = await boot(...args);
    kernels.push(k);
    return k;
  };
  afterEach(async () => {
    while (kernels.length > 0) await kernels.pop()!.stop();
  });

  it('answers the 11th login attempt in the window with 429 problem+json, RateLimit headers and Retry-After', async () => {
    const lines: LogLine[] = [];
    const kernel = await start({ rateLimit: CLASSIC, logger: memoryLogger(lines) });
    const allowed = await repeat(10, () => login(kernel));
    for (const [i, res] of allowed.entries()) {
      expect(res.statusCode, `attempt ${i + 1}`).to.equal(200);
      // Two policies in one header (draft-8): per IP and per account, each with its remaining quota.
      expect(header(res, 'ratelimit')).to.match(
        new RegExp(`^"auth"; r=${9 - i}; t=\\d+, "auth\\.account"; r=${9 - i}; t=\\d+$`),
      );
      expect(header(res, 'ratelimit-policy')).to.match(
        /^"auth"; q=10; w=900; pk=:[^:]+:, "auth\.account"; q=10; w=900; pk=:[^:]+:$/,
      );
      expect(res.headers['retry-after'], 'only a refused request carries Retry-After').to.equal(undefined);
    }
    const refused = await login(kernel);
    expectRateLimited(refused, { policy: 'auth', limit: 10, windowSeconds: 900 });
    expect(refused.json().detail).to.contain('"auth"');
    expect(
      lines.filter((l) => l.level === 'warn' || l.level === 'error'),
      'a refusal is an answer, not a fault to log',
    ).to.deep.equal([]);
  });

  it('gives each policy its own limit and counter, and the default policy to routes that declare none', async () => {
    const kernel = await start({
      rateLimit: {
        store: 'memory',
        default: { windowMs: 60_000, limit: 3 },
        policies: { search: { windowMs: 10_000, limit: 2 } },
      },
    });
    const search = await repeat(3, () => kernel.inject('/api/v1/search'));
    expect(search.map((r) => r.statusCode)).to.deep.equal([200, 200, 429]);
    expectRateLimited(search[2]!, { policy: 'search', limit: 2, windowSeconds: 10 });

    // /notes declares nothing: the default policy, with a counter of its own (search's 3 requests do not count).
    const notes = await repeat(4, () => kernel.inject('/api/v1/notes'));
    expect(notes.map((r) => r.statusCode)).to.deep.equal([200, 200, 200, 429]);
    expectRateLimited(notes[3]!, { policy: 'default', limit: 3, windowSeconds: 60 });

    // Built-in refresh policy (30 per minute) is untouched by both.
    const refresh = await kernel.inject({ method: 'POST', url: '/api/v1/auth/refresh' });
    expect(refresh.statusCode).to.equal(200);
    expect(refresh.headers['ratelimit']).to.match(/^"refresh"; r=29; t=\d+$/);
  });

  it('counts each client IP separately', async () => {
    const kernel = await start({ rateLimit: { store: 'memory', default: { windowMs: 60_000, limit: 1 } } });
    expect((await kernel.inject({ url: '/api/v1/notes', remoteAddress: '198.51.100.1' })).statusCode).to.equal(200);
    expect((await kernel.inject({ url: '/api/v1/notes', remoteAddress: '198.51.100.1' })).statusCode).to.equal(429);
    expect((await kernel.inject({ url: '/api/v1/notes', remoteAddress: '198.51.100.2' })).statusCode).to.equal(200);
    // IPv6 clients are counted per /56: another address of the same customer shares the budget.
    expect((await kernel.inject({ url: '/api/v1/notes', remoteAddress: '2001:db8:0:1::1' })).statusCode).to.equal(200);
    expect((await kernel.inject({ url: '/api/v1/notes', remoteAddress: '2001:db8:0:2::9' })).statusCode).to.equal(429);
  });

  it('exempts routes declaring rateLimit: false and root routes (/healthz, /readyz, others)', async () => {
    const kernel = await start({ rateLimit: { store: 'memory', default: { windowMs: 60_000, limit: 1 } } });
    for (const url of ['/api/v1/webhook', '/healthz', '/readyz', '/status']) {
      const responses = await repeat(3, () => kernel.inject(url));
      for (const res of responses) {
        expect(res.statusCode, url).to.equal(200);
        expect(res.headers['ratelimit'], url).to.equal(undefined);
        expect(res.headers['ratelimit-policy'], url).to.equal(undefined);
      }
    }
    expect(
      kernel
        .get(RateLimitsToken)
        .policyFor({ method: 'GET', path: '/metrics', root: true, plugin: 'metrics', meta: {} }),
    ).to.equal(undefined);
  });

  it('lets a root route opt in by naming a policy', async () => {
    const kernel = await createTestKernel({
      plugins: [httpPlugin, plugin, routeDeclaring('refresh')],
      config: { 'rate-limit': { store: 'memory', policies: { refresh: { windowMs: 60_000, limit: 1 } } } },
    });
    kernels.push(kernel);
    expect((await kernel.inject('/api/v1/declared')).statusCode).to.equal(200);
    expectRateLimited(await kernel.inject('/api/v1/declared'), { policy: 'refresh', limit: 1, windowSeconds: 60 });
  });

  it('refuses to boot when a route names an unknown policy, naming the route and the known policies', async () => {
    let failure: unknown;
    try {
      kernels.push(
        await createTestKernel({
          plugins: [httpPlugin, plugin, routeDeclaring('authh')],
          config: { 'rate-limit': { store: 'memory' } },
        }),
      );
    } catch (err) {
      failure = err;
    }
    expect(failure, 'the boot must fail').to.be.instanceOf(Error);
    const cause = (failure as { cause?: unknown }).cause;
    expect(RateLimitErrors.UNKNOWN_POLICY.is(cause), String(failure)).to.equal(true);
    const message = (cause as Error).message;
    expect(message).to.contain('GET /api/v1/declared').and.contain('"rl-declaring"').and.contain('"authh"');
    expect(message).to.contain(
      'known: default, auth, password-change, mfa, signup, verify-email, verify-resend, password-forgot, password-reset, reset, refresh',
    );
  });

  it('refuses to boot when meta.rateLimit is neither a policy name nor false', async () => {
    let failure: unknown;
    try {
      kernels.push(
        await createTestKernel({
          plugins: [httpPlugin, plugin, routeDeclaring(true)],
          config: { 'rate-limit': { store: 'memory' } },
        }),
      );
    } catch (err) {
      failure = err;
    }
    expect(
      RateLimitErrors.DECLARATION_INVALID.is((failure as { cause?: unknown } | undefined)?.cause),
      String(failure),
    ).to.equal(true);
  });

  it('rejects invalid options at boot, every problem at once', async () => {
    let failure: unknown;
    try {
      kernels.push(
        await boot({
          rateLimit: {
            store: 'memcached',
            default: { windowMs: 10, limit: 0 },
            policies: {
              default: { windowMs: 60_000, limit: 1 },
              'bad name': { windowMs: 60_000, limit: 1, keyBy: 'body.email' },
            },
          },
        }),
      );
    } catch (err) {
      failure = err;
    }
    expect((failure as { code?: string }).code).to.equal('GANTRY_CORE_BOOT_INVALID');
    const message = (failure as Error).message;
    for (const option of [
      '"store"',
      '"default.windowMs"',
      '"default.limit"',
      '"policies.default"',
      '"policies.bad name"',
      '"policies.bad name.keyBy"',
    ])
      expect(message).to.contain(option);
    expect(message).to.contain('ip+body.<field>');
  });

  describe('per-account counting (keyBy "ip+body.email", every request counted)', () => {
    it('limits one account across client IPs, trimming and lower-casing the address', async () => {
      const kernel = await start({ rateLimit: CLASSIC });
      const spellings = ['alice@example.com', 'Alice@Example.com', '  ALICE@example.COM '];
      const attempts = await repeat(10, (i) =>
        login(kernel, { email: spellings[i % 3]!, remoteAddress: `203.0.113.${i + 1}` }),
      );
      expect(attempts.map((r) => r.statusCode)).to.deep.equal(Array(10).fill(200));
      // Each attempt came from a fresh IP: only the account counter can refuse the 11th.
      const refused = await login(kernel, { email: 'alice@EXAMPLE.com', remoteAddress: '203.0.113.99' });
      expectRateLimited(refused, { policy: 'auth', per: 'account', limit: 10, windowSeconds: 900 });
      // Another account from that same IP is unaffected.
      expect((await login(kernel, { email: 'bob@example.com', remoteAddress: '203.0.113.99' })).statusCode).to.equal(
        200,
      );
    });

    it('still counts per IP when the accounts differ', async () => {
      const kernel = await start({ rateLimit: CLASSIC });
      const attempts = await repeat(10, (i) => login(kernel, { email: `user${i}@example.com` }));
      expect(attempts.map((r) => r.statusCode)).to.deep.equal(Array(10).fill(200));
      expectRateLimited(await login(kernel, { email: 'user99@example.com' }), {
        policy: 'auth',
        limit: 10,
        windowSeconds: 900,
      });
    });

    it('hands the body to the handler intact, and leaves body errors to the HTTP layer', async () => {
      const kernel = await start({ rateLimit: CLASSIC });
      const ok = await login(kernel, { email: 'Carol@example.com' });
      expect(ok.json()).to.deep.equal({ ok: true, email: 'Carol@example.com', passwordLength: 16 });

      const malformed = await kernel.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: '{"email":',
        headers: { 'content-type': 'application/json' },
      });
      expect(malformed.statusCode).to.equal(400);
      expect(malformed.json().code).to.equal('GANTRY_HTTP_MALFORMED_JSON');

      const invalid = await kernel.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 42 } });
      expect(invalid.statusCode).to.equal(400);
      expect(invalid.json().code).to.equal('GANTRY_HTTP_VALIDATION');

      const form = await kernel.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: 'email=a@b.c',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(form.statusCode).to.equal(415);
    });

    it("answers a malformed JSON body with the HTTP layer's 400, still counted per IP", async () => {
      const kernel = await start({ rateLimit: CLASSIC });
      const malformed = await kernel.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: '{"email":"alice@example.com",',
        headers: { 'content-type': 'application/json' },
      });
      expect(malformed.statusCode).to.equal(400);
      expect(malformed.json().code).to.equal('GANTRY_HTTP_MALFORMED_JSON');
      // The IP counter ran before the body was parsed: the malformed attempt spent one of its 10.
      // The account counter never saw it (there was no parsed body to read the account from).
      const next = await login(kernel);
      expect(next.statusCode).to.equal(200);
      expect(header(next, 'ratelimit')).to.match(/^"auth"; r=8; t=\d+, "auth\.account"; r=9; t=\d+$/);
    });

    it('counts compressed bodies per account, and leaves the body size limit to the http plugin', async () => {
      const kernel = await start({ rateLimit: CLASSIC, http: { bodyLimit: '1kb' } });
      const gzipped = await kernel.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: gzipSync(JSON.stringify({ email: 'Grace@example.com', password: PASSWORD })),
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      expect(gzipped.statusCode, gzipped.body).to.equal(200);
      expect(header(gzipped, 'ratelimit')).to.match(/^"auth"; r=9; t=\d+, "auth\.account"; r=9; t=\d+$/);

      const large = await kernel.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'grace@example.com', password: 'x'.repeat(2_000) },
      });
      expect(large.statusCode).to.equal(413);
      expect(large.json().code).to.equal('GANTRY_HTTP_PAYLOAD_TOO_LARGE');
      // Counted per IP (before parsing), not per account (the body was never parsed).
      expect(header(await login(kernel, { email: 'grace@example.com' }), 'ratelimit')).to.match(
        /^"auth"; r=7; t=\d+, "auth\.account"; r=8; t=\d+$/,
      );
    });

    it("rejects the retired bodyLimit option (the http plugin's bodyLimit applies)", async () => {
      let failure: unknown;
      try {
        kernels.push(await boot({ rateLimit: { store: 'memory', bodyLimit: '1kb' } }));
      } catch (err) {
        failure = err;
      }
      expect((failure as { code?: string } | undefined)?.code).to.equal('GANTRY_CORE_BOOT_INVALID');
      expect((failure as Error).message).to.contain('bodyLimit');
    });

    it('forgets an account when reset() is called (e.g. after a successful login)', async () => {
      const kernel = await start({ rateLimit: CLASSIC });
      await repeat(10, (i) => login(kernel, { remoteAddress: `192.0.2.${i + 1}` }));
      expect((await login(kernel, { remoteAddress: '192.0.2.50' })).statusCode).to.equal(429);
      await kernel.get(RateLimitsToken).reset('auth', { account: ' Alice@example.com' });
      expect((await login(kernel, { remoteAddress: '192.0.2.51' })).statusCode).to.equal(200);
    });
  });

  it('counts per counter what it is told: every request per IP, only answers below 400 per account ("successes")', async () => {
    // Like the built-in mail flows: each success would mail the address.
    const mailFlow = {
      windowMs: 3_600_000,
      limit: 5,
      count: 'all',
      keyBy: 'ip+body.email',
      perAccount: { windowMs: 3_600_000, limit: 2, count: 'successes' },
    };
    const kernel = await start({ rateLimit: { store: 'memory', policies: { auth: mailFlow } } });
    // Failures (401) do not spend the address's budget, and are un-counted once answered.
    expect((await login(kernel, { password: 'typo' })).statusCode).to.equal(401);
    expect((await login(kernel, { password: 'typo' })).statusCode).to.equal(401);
    const first = await login(kernel);
    expect(first.statusCode).to.equal(200);
    expect(header(first, 'ratelimit')).to.match(/^"auth"; r=2; t=\d+, "auth\.account"; r=1; t=\d+$/);
    expect((await login(kernel)).statusCode).to.equal(200);
    expectRateLimited(await login(kernel, { remoteAddress: '198.51.100.5' }), {
      policy: 'auth',
      per: 'account',
      limit: 2,
      windowSeconds: 3600,
    });
    // Every request counts per IP: the 6th from 127.0.0.1 is refused whatever its account.
    expect((await login(kernel, { email: 'other@example.com', password: 'typo' })).statusCode).to.equal(401);
    expectRateLimited(await login(kernel, { email: 'other@example.com', password: 'typo' }), {
      policy: 'auth',
      limit: 5,
      windowSeconds: 3600,
    });
  });

  /** The error a promise rejects with, or undefined when it resolves. */
  const refusal = (promise: Promise<unknown>): Promise<unknown> =>
    promise.then(
      () => undefined,
      (err: unknown) => err,
    );

  describe('consume(): entry points that are not routes (a WebSocket upgrade)', () => {
    it("counts on the same per-IP counter as the policy's routes and refuses past its limit with 429 and Retry-After", async () => {
      const kernel = await start({ rateLimit: { store: 'memory', default: { windowMs: 60_000, limit: 3 } } });
      const limits = kernel.get(RateLimitsToken);
      await limits.consume('default', '198.51.100.7');
      expect((await kernel.inject({ url: '/api/v1/notes', remoteAddress: '198.51.100.7' })).statusCode).to.equal(200);
      await limits.consume('default', '198.51.100.7');
      const refused = await refusal(limits.consume('default', '198.51.100.7'));
      expect(RateLimitErrors.EXCEEDED.is(refused), String(refused)).to.equal(true);
      const err = refused as { status: number; headers: Record<string, string>; details: Record<string, unknown> };
      expect(err.status).to.equal(429);
      expect(Number(err.headers['Retry-After'])).to.be.within(1, 60);
      expect(err.details).to.deep.include({ policy: 'default', per: 'ip', limit: 3, windowSeconds: 60 });
      // The route shares the counter: the same client is refused there too; another IP, or an IPv6
      // address outside its /56, is not.
      expect((await kernel.inject({ url: '/api/v1/notes', remoteAddress: '198.51.100.7' })).statusCode).to.equal(429);
      await limits.consume('default', '198.51.100.8');
      await limits.consume('default', '2001:db8:0:1::1');
      await limits.consume('default', '2001:db8:0:1::2');
      await limits.consume('default', '2001:db8:0:1::3');
      expect(String(await refusal(limits.consume('default', '2001:db8:0:1:ffff::9')))).to.match(/too many requests/);
      await limits.consume('default', '2001:db8:0:100::1');
    });

    it("un-counts what the policy's count leaves out once told how the call ended", async () => {
      const kernel = await start({
        rateLimit: {
          store: 'memory',
          policies: {
            upgrades: { windowMs: 60_000, limit: 2, count: 'failures' },
            welcomes: { windowMs: 60_000, limit: 2, count: 'successes' },
          },
        },
      });
      const limits = kernel.get(RateLimitsToken);
      // Failures only: successes are un-counted, so any number of them pass; two failures spend the budget.
      for (let i = 0; i < 5; i++) (await limits.consume('upgrades', '192.0.2.1')).settle(true);
      const failed = await limits.consume('upgrades', '192.0.2.1');
      failed.settle(false);
      failed.settle(true); // a second report is ignored: the failure stays counted
      (await limits.consume('upgrades', '192.0.2.1')).settle(false);
      expect(String(await refusal(limits.consume('upgrades', '192.0.2.1')))).to.match(/"upgrades"/);
      // Successes only: failures do not spend it.
      for (let i = 0; i < 5; i++) (await limits.consume('welcomes', '192.0.2.1')).settle(false);
      (await limits.consume('welcomes', '192.0.2.1')).settle(true);
      (await limits.consume('welcomes', '192.0.2.1')).settle(true);
      expect(String(await refusal(limits.consume('welcomes', '192.0.2.1')))).to.match(/"welcomes"/);
      expect(String(await refusal(limits.consume('welcomes', '192.0.2.1')))).to.match(/"welcomes"/);
      await limits.reset('welcomes', { ip: '192.0.2.1' });
      (await limits.consume('welcomes', '192.0.2.1')).settle(true);
    });

    it('refuses an unknown policy, naming the known ones', async () => {
      const kernel = await start({ rateLimit: { store: 'memory' } });
      const err = await refusal(kernel.get(RateLimitsToken).consume('nope', '192.0.2.1'));
      expect(RateLimitErrors.UNKNOWN_POLICY.is(err), String(err)).to.equal(true);
      expect((err as Error).message).to.contain('known: default, auth');
    });
  });

  it('counts rejections in rate_limit_rejected_total{policy} when the metrics plugin is enabled', async () => {
    const kernel = await start({
      rateLimit: { store: 'memory', policies: { search: { windowMs: 60_000, limit: 1 } } },
      extra: [metricsPlugin],
    });
    const before = (await kernel.inject('/metrics')).body;
    expect(before).to.contain('rate_limit_rejected_total{policy="search"} 0');
    await repeat(3, () => kernel.inject('/api/v1/search'));
    const after = (await kernel.inject('/metrics')).body;
    expect(after).to.contain('rate_limit_rejected_total{policy="search"} 2');
    expect(after).to.contain('rate_limit_rejected_total{policy="default"} 0');
  });

  it('uses the memory store in the embedded profile and reports it in /readyz', async () => {
    const kernel = await start({ rateLimit: {} });
    expect(kernel.get(RateLimitsToken).store).to.equal('memory');
    const ready = await kernel.inject('/readyz');
    expect(ready.statusCode).to.equal(200);
    expect(ready.json().checks['rate-limit']).to.deep.include({
      status: 'up',
      critical: false,
      details: { store: 'memory' },
    });
  });

  it('lists the resolved policies: default fails open, named ones fail closed unless told otherwise', async () => {
    const kernel = await start({
      rateLimit: {
        store: 'memory',
        policies: { search: { windowMs: 60_000, limit: 5, failOpen: true }, auth: { windowMs: 60_000, limit: 3 } },
      },
    });
    const policies = Object.fromEntries(
      kernel
        .get(RateLimitsToken)
        .policies()
        .map((p) => [p.name, p]),
    );
    expect(policies.default).to.deep.include({ windowMs: 60_000, limit: 300, keyBy: 'ip', failOpen: true });
    expect(policies.auth, 'a configured entry replaces the built-in whole').to.deep.include({
      windowMs: 60_000,
      limit: 3,
      count: 'all',
      keyBy: 'ip',
      accountField: undefined,
      perAccountAndIp: undefined,
      perAccount: undefined,
      failOpen: false,
    });
    expect(policies.mfa).to.deep.include({
      limit: 30,
      count: 'failures',
      keyBy: 'ip+body.mfaToken',
      accountField: 'mfaToken',
      failOpen: false,
    });
    expect(policies.mfa!.perAccount).to.deep.include({ windowMs: 900_000, limit: 5, count: 'failures' });
    expect(policies.reset).to.deep.include({ windowMs: 3_600_000, limit: 5, failOpen: false });
    expect(policies.reset!.perAccount, 'without perAccount, the account counts like the IP').to.deep.equal({
      windowMs: 3_600_000,
      limit: 5,
      count: 'all',
      delay: undefined,
      knownSourceMs: undefined,
    });
    expect(policies.refresh).to.deep.include({ windowMs: 60_000, limit: 30, failOpen: false });
    expect(policies.search).to.deep.include({ failOpen: true });
  });
});
