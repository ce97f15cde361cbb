// The built-in auth policy against password guessing on two instances sharing the real Redis
// (127.0.0.1:6379): every counter, the delay and the known sources are shared.
import { createHash } from 'node:crypto';
import type { TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import {
  boot,
  deleteKeys,
  eventually,
  expectRateLimited,
  guess,
  header,
  keysUnder,
  login,
  REDIS_URL,
  repeat,
  SMALL_ACCOUNT_BUDGET,
  uniquePrefix,
} from './harness.js';

const ADMIN = 'admin@example.com';
const ATTACKER_IP = '203.0.113.66';
const ADMIN_IP = '198.51.100.10';

describe('rate-limit: password guessing across two instances sharing Redis (real Redis on 127.0.0.1:6379)', () => {
  const prefix = uniquePrefix();
  const kernels: TestKernel[] = [];
  const start = async (rateLimit: Record<string, unknown> = {}): Promise<TestKernel> => {
    const k = await boot({ redis: { url: REDIS_URL }, rateLimit: { store: 'redis', prefix, ...rateLimit } });
    kernels.push(k);
    return k;
  };
  afterEach(async () => {
    while (kernels.length > 0) await kernels.pop()!.stop();
    await deleteKeys(prefix);
  });
  after(async () => {
    expect(await keysUnder(prefix), 'every test key is deleted').to.deep.equal([]);
  });

  it('does not let 10+ wrong passwords from one IP on both instances lock the owner out of either', async () => {
    const a = await start();
    const b = await start();
    const attack = await repeat(12, (i) => guess(i % 2 === 0 ? a : b, ADMIN, ATTACKER_IP));
    expect(attack.map((r) => r.statusCode)).to.deep.equal([...Array(10).fill(401), 429, 429]);
    expectRateLimited(attack[11]!, { policy: 'auth', per: 'account-ip', limit: 10, windowSeconds: 900 });
    // Refused on both instances: the (account, IP) count is shared.
    expectRateLimited(await login(a, { email: ADMIN, remoteAddress: ATTACKER_IP }), {
      policy: 'auth',
      per: 'account-ip',
      limit: 10,
      windowSeconds: 900,
    });

    const owner = await login(b, { email: ADMIN, remoteAddress: ADMIN_IP });
    expect(owner.statusCode, owner.body).to.equal(200);
    expect(header(owner, 'ratelimit')).to.match(
      /^"auth"; r=49; t=\d+, "auth\.account-ip"; r=9; t=\d+, "auth\.account"; r=89; t=\d+$/,
    );

    // Keys: per IP, per (account, IP), per account and the owner's known source; the address only as a hash.
    const hash = createHash('sha256').update(ADMIN).digest('base64url');
    await eventually(async () => (await keysUnder(prefix)).includes(`${prefix}auth:known:${hash}:${ADMIN_IP}`));
    expect(await keysUnder(prefix)).to.deep.equal(
      [
        `${prefix}auth:${ADMIN_IP}`,
        `${prefix}auth:${ATTACKER_IP}`,
        `${prefix}auth:acct-ip:${hash}:${ATTACKER_IP}`,
        `${prefix}auth:acct:${hash}`,
        `${prefix}auth:known:${hash}:${ADMIN_IP}`,
      ].sort(),
    );
  });

  it('clears the (account, IP) count on a success on the other instance', async () => {
    const a = await start();
    const b = await start();
    await repeat(9, () => guess(a, ADMIN, ATTACKER_IP));
    expect((await login(b, { email: ADMIN, remoteAddress: ATTACKER_IP })).statusCode).to.equal(200);
    // The reset runs once the answer is sent: wait for it, then ten fresh failures are needed again.
    const hash = createHash('sha256').update(ADMIN).digest('base64url');
    await eventually(async () => !(await keysUnder(prefix)).includes(`${prefix}auth:acct-ip:${hash}:${ATTACKER_IP}`));
    const next = await guess(a, ADMIN, ATTACKER_IP);
    expect(next.statusCode).to.equal(401);
    expect(header(next, 'ratelimit')).to.match(/"auth\.account-ip"; r=9; t=\d+/);
  });

  it('stops guesses at one account from many IPs on both instances, and lets the owner in from a known source', async () => {
    const a = await start({ policies: { auth: SMALL_ACCOUNT_BUDGET } });
    const b = await start({ policies: { auth: SMALL_ACCOUNT_BUDGET } });
    expect((await login(a, { email: ADMIN, remoteAddress: ADMIN_IP })).statusCode).to.equal(200);
    const hash = createHash('sha256').update(ADMIN).digest('base64url');
    await eventually(async () => (await keysUnder(prefix)).includes(`${prefix}auth:known:${hash}:${ADMIN_IP}`));

    const spray = await repeat(6, (i) => guess(i % 2 === 0 ? a : b, ADMIN, `203.0.113.${i + 1}`));
    expect(spray.map((r) => r.statusCode)).to.deep.equal(Array(6).fill(401));
    expectRateLimited(await login(a, { email: ADMIN, remoteAddress: '203.0.113.99' }), {
      policy: 'auth',
      per: 'account',
      limit: 6,
      windowSeconds: 3600,
    });
    expectRateLimited(await guess(b, ADMIN, '203.0.113.100'), {
      policy: 'auth',
      per: 'account',
      limit: 6,
      windowSeconds: 3600,
    });
    const owner = await login(b, { email: ADMIN, remoteAddress: ADMIN_IP });
    expect(owner.statusCode, owner.body).to.equal(200);
    expect(owner.headers['retry-after']).to.equal(undefined);
  });
});
