// The users routes under the rate-limit plugin's built-in policies (memory store), with client IPs
// injected as the socket address: nobody can lock an account owner out, guessing stays slow, and a
// real user's journey with typos never meets a 429.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { plugin as rateLimitPlugin } from '@gantry/plugin-rate-limit';
import { expect } from 'chai';
import { UsersToken } from '../src/index.js';
import { bootStack, type Reply, type Stack } from './support/stack.js';

const PW = 'Correct-Horse-Battery-9';
const ADMIN = 'admin@example.com';
const ATTACKER_IP = '203.0.113.66';
const ADMIN_IP = '198.51.100.10';
const OFFICE_IP = '192.0.2.44';

/** One request from a given client address. */
async function from(stack: Stack, ip: string, method: string, url: string, body?: unknown): Promise<Reply> {
  const res = await stack.tk.inject({
    method: method as 'POST',
    url: `/api/v1${url}`,
    remoteAddress: ip,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) }),
  });
  return {
    status: res.statusCode,
    headers: res.headers as Reply['headers'],
    body: res.body ? JSON.parse(res.body) : undefined,
    text: res.body,
  };
}

/** Waits until `count` mails to `to` with that subject were written (mail goes out after the answer). */
async function mailsArrived(stack: Stack, to: string, subject: RegExp, count: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const mails = readdirSync(stack.mailDir)
      .filter((f) => f.endsWith('.eml'))
      .map((f) => readFileSync(path.join(stack.mailDir, f), 'utf8'))
      .filter((m) => m.toLowerCase().includes(`to: ${to}`) && subject.test(m));
    if (mails.length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`fewer than ${count} mails to ${to} matching ${subject}`);
}

describe('users under the built-in rate-limit policies', () => {
  let stack: Stack;
  const start = async (rateLimit: Record<string, unknown> = {}): Promise<Stack> => {
    stack = await bootStack({ extra: [rateLimitPlugin], config: { 'rate-limit': { store: 'memory', ...rateLimit } } });
    return stack;
  };
  afterEach(() => stack.stop());

  it('lets the administrator sign in from another address while an attacker fails 12 times from one', async () => {
    await start();
    await stack.tk
      .get(UsersToken)
      .ensureAccount({ email: ADMIN, password: PW, name: 'Admin', roles: ['admin', 'user'] });
    const attack: number[] = [];
    for (let i = 0; i < 12; i++)
      attack.push(
        (await from(stack, ATTACKER_IP, 'POST', '/auth/login', { email: ADMIN, password: `guess-${i}-Battery` }))
          .status,
      );
    expect(attack).to.deep.equal([...Array(10).fill(401), 429, 429]);
    const admin = await from(stack, ADMIN_IP, 'POST', '/auth/login', { email: ADMIN, password: PW });
    expect(admin.status, admin.text).to.equal(200);
    expect(admin.body.accessToken).to.be.a('string');
  });

  it('refuses the 11th guess for one account from one address even with the right password', async () => {
    await start();
    await stack.tk.get(UsersToken).ensureAccount({ email: ADMIN, password: PW, name: 'Admin', roles: ['user'] });
    for (let i = 0; i < 10; i++)
      expect(
        (await from(stack, ATTACKER_IP, 'POST', '/auth/login', { email: ADMIN, password: `guess-${i}-Battery` }))
          .status,
      ).to.equal(401);
    const right = await from(stack, ATTACKER_IP, 'POST', '/auth/login', { email: ADMIN, password: PW });
    expect(right.status).to.equal(429);
    expect(right.body).to.include({ code: 'GANTRY_RATE_LIMIT_EXCEEDED', policy: 'auth', per: 'account-ip', limit: 10 });
  });

  it('stops guesses at one account sprayed from many addresses, and the owner still signs in from a known address', async () => {
    // The built-in auth with a per-account budget of 5 failures and short delays, so that spraying fits in a test.
    const auth = {
      windowMs: 900_000,
      limit: 50,
      count: 'failures',
      keyBy: 'ip+body.email',
      perAccountAndIp: { windowMs: 900_000, limit: 10, count: 'failures' },
      perAccount: {
        windowMs: 3_600_000,
        limit: 5,
        count: 'failures',
        delay: { after: 2, initialMs: 10, maxMs: 20 },
        knownSourceMs: 86_400_000,
      },
    };
    await start({ policies: { auth } });
    await stack.tk
      .get(UsersToken)
      .ensureAccount({ email: ADMIN, password: PW, name: 'Admin', roles: ['admin', 'user'] });
    expect((await from(stack, ADMIN_IP, 'POST', '/auth/login', { email: ADMIN, password: PW })).status).to.equal(200);
    for (let i = 0; i < 5; i++)
      expect(
        (
          await from(stack, `203.0.113.${i + 1}`, 'POST', '/auth/login', {
            email: ADMIN,
            password: `guess-${i}-Battery`,
          })
        ).status,
      ).to.equal(401);
    const stranger = await from(stack, '203.0.113.99', 'POST', '/auth/login', { email: ADMIN, password: PW });
    expect(stranger.status).to.equal(429);
    expect(stranger.body).to.include({ policy: 'auth', per: 'account', limit: 5 });
    expect((await from(stack, ADMIN_IP, 'POST', '/auth/login', { email: ADMIN, password: PW })).status).to.equal(200);
  });

  it('takes three colleagues behind one address through sign-up, typos, a resend, a forgot and a reset without a 429', async () => {
    await start();
    const people = ['ana@example.com', 'ben@example.com', 'cyd@example.com'];
    const statuses: string[] = [];
    const step = async (label: string, method: string, url: string, body?: unknown): Promise<Reply> => {
      const res = await from(stack, OFFICE_IP, method, url, body);
      statuses.push(`${label} ${res.status}`);
      return res;
    };
    // Ana first picks a common password, then a good one.
    await step('ana signup (weak)', 'POST', '/auth/signup', { email: people[0], password: 'password1', name: 'Ana' });
    for (const email of people)
      await step(`${email} signup`, 'POST', '/auth/signup', { email, password: PW, name: email.slice(0, 3) });
    // Ben did not get his mail: he asks again, then everybody verifies.
    await step('ben resend', 'POST', '/auth/verify-email/resend', { email: people[1] });
    // The new link voids the first one: verify with the newest.
    await mailsArrived(stack, people[1]!, /Subject: Verify your email/, 2);
    for (const email of people)
      await step(`${email} verify`, 'POST', '/auth/verify-email', {
        token: await stack.mailedToken(email, /Subject: Verify your email/),
      });
    // Ana mistypes her password twice, then signs in.
    await step('ana typo 1', 'POST', '/auth/login', { email: people[0], password: `${PW}x` });
    await step('ana typo 2', 'POST', '/auth/login', { email: people[0], password: PW.toLowerCase() });
    await step('ana login', 'POST', '/auth/login', { email: people[0], password: PW });
    // Cyd forgot hers: a forgot, a reset with a weak password first, then the sign-in with the new one.
    await step('cyd forgot', 'POST', '/auth/password/forgot', { email: people[2] });
    const token = await stack.mailedToken(people[2]!, /Subject: Reset your password/);
    await step('cyd reset (weak)', 'POST', '/auth/password/reset', { token, password: 'password1' });
    await step('cyd reset', 'POST', '/auth/password/reset', { token, password: 'Another-Good-Pass-7' });
    await step('cyd login', 'POST', '/auth/login', { email: people[2], password: 'Another-Good-Pass-7' });
    await step('ben login', 'POST', '/auth/login', { email: people[1], password: PW });
    expect(statuses).to.deep.equal([
      'ana signup (weak) 400',
      'ana@example.com signup 201',
      'ben@example.com signup 201',
      'cyd@example.com signup 201',
      'ben resend 202',
      'ana@example.com verify 204',
      'ben@example.com verify 204',
      'cyd@example.com verify 204',
      'ana typo 1 401',
      'ana typo 2 401',
      'ana login 200',
      'cyd forgot 202',
      'cyd reset (weak) 400',
      'cyd reset 204',
      'cyd login 200',
      'ben login 200',
    ]);
  });

  it('mails one address at most 3 times an hour through resend or forgot, while other addresses of the same office go on', async () => {
    await start();
    const forgot = (email: string) => from(stack, OFFICE_IP, 'POST', '/auth/password/forgot', { email });
    const resend = (email: string) => from(stack, OFFICE_IP, 'POST', '/auth/verify-email/resend', { email });
    for (let i = 0; i < 3; i++) expect((await forgot('victim@example.com')).status).to.equal(202);
    const fourth = await forgot('VICTIM@example.com');
    expect(fourth.status).to.equal(429);
    expect(fourth.body).to.include({ policy: 'password-forgot', per: 'account', limit: 3, windowSeconds: 3600 });
    // From another address too: the limit is the mailbox's, not the sender's.
    expect(
      (await from(stack, '198.51.100.77', 'POST', '/auth/password/forgot', { email: 'victim@example.com' })).status,
    ).to.equal(429);
    for (let i = 0; i < 3; i++) expect((await resend('victim@example.com')).status).to.equal(202);
    expect((await resend('victim@example.com')).body).to.include({ policy: 'verify-resend', per: 'account' });
    for (const who of ['a', 'b', 'c', 'd', 'e']) expect((await forgot(`${who}@example.com`)).status).to.equal(202);
    // Signing up the same address again and again (each sends the owner a mail) stops at 3 too.
    for (let i = 0; i < 3; i++)
      expect(
        (
          await from(stack, `198.51.100.${i + 1}`, 'POST', '/auth/signup', {
            email: 'victim@example.com',
            password: PW,
            name: 'V',
          })
        ).status,
      ).to.equal(201);
    expect(
      (
        await from(stack, '198.51.100.9', 'POST', '/auth/signup', {
          email: 'victim@example.com',
          password: PW,
          name: 'V',
        })
      ).body,
    ).to.include({ policy: 'signup', per: 'account' });
  });
});
