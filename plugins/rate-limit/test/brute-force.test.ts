// The built-in `auth` policy against password guessing: per (account, IP) tight, per IP generous, per
// account loose with a progressive delay, failures only, known sources. Memory store; the same
// scenarios across two instances sharing Redis are in brute-force.redis.test.ts.
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { plugin as metricsPlugin } from '@gantry/plugin-metrics';
import { type TestKernel, memoryLogger, type LogLine } from '@gantry/testing';
import { expect } from 'chai';
import { BUILTIN_POLICIES, RateLimitsToken } from '../src/index.js';
import { delayWithinDeadline, hold, progressiveDelayMs } from '../src/progressive-delay.js';
import {
  boot,
  eventually,
  expectRateLimited,
  guess,
  header,
  login,
  loginHandled,
  PASSWORD,
  repeat,
  SMALL_ACCOUNT_BUDGET,
} from './harness.js';

const ADMIN = 'admin@example.com';
const ATTACKER_IP = '203.0.113.66';
const ADMIN_IP = '198.51.100.10';

/** `auth` without its progressive delay, for tests that fail one account more than 10 times. */
const NO_DELAY = { ...BUILTIN_POLICIES.auth, perAccount: { windowMs: 3_600_000, limit: 100, count: 'failures' } };

/** The value of a counter series in the /metrics text, 0 when absent. */
async function metric(kernel: TestKernel, series: string): Promise<number> {
  const line = (await kernel.inject('/metrics')).body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('rate-limit: password guessing under the built-in auth policy (memory store)', () => {
  const kernels: TestKernel[] = [];
  const start = async (...args: Parameters<typeof boot>): Promise<TestKernel> => {
    const k = await boot(...args);
    kernels.push(k);
    return k;
  };
  afterEach(async () => {
    while (kernels.length > 0) await kernels.pop()!.stop();
  });

  it('does not let wrong passwords from one IP lock the owner out: the owner signs in from another IP', async () => {
    const lines: LogLine[] = [];
    const kernel = await start({ logger: memoryLogger(lines) });
    const attack = await repeat(12, () => guess(kernel, ADMIN, ATTACKER_IP));
    expect(attack.map((r) => r.statusCode)).to.deep.equal([...Array(10).fill(401), 429, 429]);
    const owner = await login(kernel, { email: ADMIN, remoteAddress: ADMIN_IP });
    expect(owner.statusCode, owner.body).to.equal(200);
    // The owner's source has its own (account, IP) budget; the account has 10 failures of its 100.
    expect(header(owner, 'ratelimit')).to.match(
      /^"auth"; r=49; t=\d+, "auth\.account-ip"; r=9; t=\d+, "auth\.account"; r=89; t=\d+$/,
    );
    expect(
      lines.filter((l) => l.level === 'warn' || l.level === 'error'),
      'express-rate-limit and the guards log nothing',
    ).to.deep.equal([]);
  });

  it('refuses the 11th wrong password for one account from one IP, even with the right password, for 15 minutes', async () => {
    const kernel = await start();
    const attempts = await repeat(10, () => guess(kernel, ADMIN, ATTACKER_IP));
    for (const [i, res] of attempts.entries()) {
      expect(res.statusCode, `attempt ${i + 1}`).to.equal(401);
      expect(header(res, 'ratelimit')).to.match(
        new RegExp(
          `^"auth"; r=${49 - i}; t=\\d+, "auth\\.account-ip"; r=${9 - i}; t=\\d+, "auth\\.account"; r=${99 - i}; t=\\d+$`,
        ),
      );
    }
    const refused = await login(kernel, { email: ADMIN, remoteAddress: ATTACKER_IP });
    expectRateLimited(refused, { policy: 'auth', per: 'account-ip', limit: 10, windowSeconds: 900 });
    expect(refused.json().detail).to.contain('for this account from this client');
    // The same IP still reaches other accounts (until its own 50 failures).
    expect((await guess(kernel, 'bob@example.com', ATTACKER_IP)).statusCode).to.equal(401);
    // The same account from an IPv6 address of the same /56 shares the (account, IP) budget.
    const v6 = await repeat(10, (i) => guess(kernel, 'carol@example.com', `2001:db8:0:${i}::1`));
    expect(v6.map((r) => r.statusCode)).to.deep.equal(Array(10).fill(401));
    expect((await guess(kernel, 'carol@example.com', '2001:db8:0:ff::2')).statusCode).to.equal(429);
  });

  it("counts failures only: a success clears the pair's count, and an office behind one IP signs in all day", async () => {
    const kernel = await start({ rateLimit: { store: 'memory', policies: { auth: NO_DELAY } } });
    await repeat(9, () => guess(kernel, ADMIN, ATTACKER_IP));
    expect((await login(kernel, { email: ADMIN, remoteAddress: ATTACKER_IP })).statusCode).to.equal(200);
    // Ten fresh failures are needed again before this source is refused.
    const after = await repeat(11, () => guess(kernel, ADMIN, ATTACKER_IP));
    expect(after.map((r) => r.statusCode)).to.deep.equal([...Array(10).fill(401), 429]);

    // 120 sign-ins of 40 people behind one NAT address, with a typo each: under the per-IP limit of 50 failures.
    const office = '192.0.2.200';
    for (let person = 0; person < 40; person++) {
      const email = `person${person}@example.com`;
      expect((await guess(kernel, email, office)).statusCode).to.equal(401);
      for (let i = 0; i < 3; i++)
        expect(
          (await login(kernel, { email, remoteAddress: office })).statusCode,
          `${email} sign-in ${i + 1}`,
        ).to.equal(200);
    }
  });

  it('limits one IP spraying many accounts to 50 failures per 15 minutes', async () => {
    const kernel = await start();
    const spray = await repeat(51, (i) => guess(kernel, `victim${i}@example.com`, ATTACKER_IP));
    expect(spray.slice(0, 50).map((r) => r.statusCode)).to.deep.equal(Array(50).fill(401));
    expectRateLimited(spray[50]!, { policy: 'auth', per: 'ip', limit: 50, windowSeconds: 900 });
  });

  it('slows and then stops guesses at one account from many IPs, but a known source of the owner still signs in', async () => {
    const kernel = await start({
      rateLimit: { store: 'memory', policies: { auth: SMALL_ACCOUNT_BUDGET } },
      extra: [metricsPlugin],
    });
    // The owner signed in from ADMIN_IP before the attack: a known source of the account.
    expect((await login(kernel, { email: ADMIN, remoteAddress: ADMIN_IP })).statusCode).to.equal(200);

    const elapsed: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      expect((await guess(kernel, ADMIN, `203.0.113.${i + 1}`)).statusCode, `guess ${i + 1}`).to.equal(401);
      elapsed.push(performance.now() - t0);
    }
    // Failures 3 to 6 were held back 40, 80, 80, 80 ms (after 2, doubling, capped). Timers never fire
    // before their time (Node may round down by 1 ms), so these lower bounds hold on any machine.
    for (const [i, min] of [
      [2, 40],
      [3, 80],
      [4, 80],
      [5, 80],
    ] as const)
      expect(elapsed[i], `guess ${i + 1}`).to.be.at.least(min - 1);
    expect(await metric(kernel, 'rate_limit_delayed_total{policy="auth"}')).to.equal(4);

    // The account's 6 failures are spent: a new source is refused whatever the password...
    const stranger = await login(kernel, { email: ADMIN, remoteAddress: '203.0.113.99' });
    expectRateLimited(stranger, { policy: 'auth', per: 'account', limit: 6, windowSeconds: 3600 });
    expect(stranger.json().detail).to.contain('for this account');
    // ...but the owner's known source is let through (still delayed), without Retry-After.
    const owner = await login(kernel, { email: ADMIN, remoteAddress: ADMIN_IP });
    expect(owner.statusCode, owner.body).to.equal(200);
    expect(owner.headers['retry-after']).to.equal(undefined);
    expect(header(owner, 'ratelimit')).to.match(/"auth\.account"; r=0; t=\d+$/);
    // Other accounts are untouched.
    expect((await login(kernel, { email: 'bob@example.com', remoteAddress: '203.0.113.99' })).statusCode).to.equal(200);
  });

  it('holds a request at most half the time left before its deadline', async function () {
    // Uncapped, the delay would hold the request 60 s: past this test's timeout.
    this.timeout(10_000);
    const kernel = await start({
      http: { requestTimeoutMs: 2_000 },
      rateLimit: {
        store: 'memory',
        policies: {
          auth: {
            ...SMALL_ACCOUNT_BUDGET,
            perAccount: {
              windowMs: 60_000,
              limit: 10,
              count: 'failures',
              delay: { after: 0, initialMs: 60_000, maxMs: 60_000 },
            },
          },
        },
      },
    });
    const t0 = performance.now();
    const res = await login(kernel, { email: ADMIN, remoteAddress: ADMIN_IP });
    expect(res.statusCode, res.body).to.equal(200);
    // At most 1 s of the 2 s deadline; the lower bound shows the request was held at all.
    expect(performance.now() - t0).to.be.at.least(500);
  });

  it('stops holding a request whose client went away: its handler never runs', async function () {
    this.timeout(10_000);
    const held = {
      ...SMALL_ACCOUNT_BUDGET,
      perAccount: { windowMs: 60_000, limit: 10, count: 'failures', delay: { after: 0, initialMs: 800, maxMs: 800 } },
    };
    const kernel = await start({
      http: { listen: true, port: 0, host: '127.0.0.1' },
      rateLimit: { store: 'memory', policies: { auth: held } },
      extra: [metricsPlugin],
    });
    const body = JSON.stringify({ email: ADMIN, password: PASSWORD });
    const send = () =>
      request(`${kernel.url()}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
      });

    // A client that waits gets its answer after the delay: the handler runs.
    const before = loginHandled.count;
    const waited = await new Promise<number>((resolve, reject) =>
      send()
        .on('response', (res) => resolve(res.resume().statusCode ?? 0))
        .on('error', reject)
        .end(body),
    );
    expect(waited).to.equal(200);
    expect(loginHandled.count).to.equal(before + 1);

    // A client that goes away while held: the wait ends and the handler is never called.
    const abandoned = send().on('error', () => undefined);
    abandoned.end(body);
    await eventually(async () => (await metric(kernel, 'rate_limit_delayed_total{policy="auth"}')) === 2, 100, 10);
    abandoned.destroy();
    // Twice the delay: a wait that ignored the abort would have called the handler by then.
    await sleep(1_600);
    expect(loginHandled.count).to.equal(before + 1);
  });

  it('forgets the (account, IP) pair when reset() gets both', async () => {
    const kernel = await start();
    await repeat(10, () => guess(kernel, ADMIN, ATTACKER_IP));
    expect((await guess(kernel, ADMIN, ATTACKER_IP)).statusCode).to.equal(429);
    await kernel.get(RateLimitsToken).reset('auth', { account: ADMIN });
    expect((await guess(kernel, ADMIN, ATTACKER_IP)).statusCode, 'the account alone leaves the pair').to.equal(429);
    await kernel.get(RateLimitsToken).reset('auth', { account: ` ${ADMIN.toUpperCase()}`, ip: ATTACKER_IP });
    const fresh = await guess(kernel, ADMIN, ATTACKER_IP);
    expect(fresh.statusCode).to.equal(401);
    expect(header(fresh, 'ratelimit')).to.match(
      /^"auth"; r=49; t=\d+, "auth\.account-ip"; r=9; t=\d+, "auth\.account"; r=99; t=\d+$/,
    );
  });

  it('refuses per-account options on a policy counting per IP, and a delay whose maximum is below its start', async () => {
    let failure: unknown;
    try {
      kernels.push(
        await boot({
          rateLimit: {
            store: 'memory',
            policies: {
              ipOnly: { windowMs: 60_000, limit: 5, perAccount: { windowMs: 60_000, limit: 5 } },
              slow: {
                windowMs: 60_000,
                limit: 5,
                keyBy: 'ip+body.email',
                perAccount: { windowMs: 60_000, limit: 5, delay: { after: 1, initialMs: 500, maxMs: 100 } },
              },
              // Reported along with the other problems of the same policy.
              both: { windowMs: 10, limit: 5, perAccountAndIp: { windowMs: 60_000, limit: 5 } },
            },
          },
        }),
      );
    } catch (err) {
      failure = err;
    }
    expect((failure as { code?: string } | undefined)?.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    const message = (failure as Error).message;
    expect(message).to.contain('"policies.ipOnly.perAccount"').and.contain('keyBy "ip+body.<field>"');
    expect(message).to.contain('"policies.slow.perAccount.delay.maxMs"').and.contain('at least initialMs');
    expect(message).to.contain('"policies.both.windowMs"').and.contain('"policies.both.perAccountAndIp"');
  });
});

describe('rate-limit: the progressive delay', () => {
  it('is none up to `after`, then doubles from initialMs up to maxMs', () => {
    const delay = { after: 10, initialMs: 500, maxMs: 5_000 };
    expect([1, 10, 11, 12, 13, 14, 15, 16, 100, 1e9].map((used) => progressiveDelayMs(used, delay))).to.deep.equal([
      0, 0, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000,
    ]);
  });

  it('never takes more than half the time left before the deadline', () => {
    expect(delayWithinDeadline(5_000, { remainingMs: () => 30_000 })).to.equal(5_000);
    expect(delayWithinDeadline(5_000, { remainingMs: () => 3_001 })).to.equal(1_500);
    expect(delayWithinDeadline(5_000, { remainingMs: () => 0 })).to.equal(0);
    expect(delayWithinDeadline(5_000, undefined)).to.equal(5_000);
  });

  it('ends the wait as soon as the request is aborted (client gone or deadline)', async () => {
    const controller = new AbortController();
    // Without honouring the signal this would wait 60 s, past mocha's timeout.
    const waiting = hold(60_000, controller.signal);
    controller.abort(new Error('client closed the connection'));
    expect(await waiting).to.equal(false);
    expect(await hold(60_000, AbortSignal.abort())).to.equal(false);
    expect(await hold(1, new AbortController().signal)).to.equal(true);
  });
});
