// The behaviour the mfa plugin must have on every engine, run against SQLite (mfa.test.ts) and the
// real PostgreSQL (mfa.pg.test.ts), through the whole identity stack and the HTTP contract.
import { AuditToken, type AuditEntry } from '@gantry/plugin-audit';
import { DatabaseToken } from '@gantry/plugin-database';
import { expect } from 'chai';
import { acceptTotpStep, spendRecoveryCode } from '../../src/acceptance.js';
import { MfaToken, MfaTotpEntity } from '../../src/index.js';
import { parseKey, SecretBox } from '../../src/secret-box.js';
import { normalizeRecoveryCode } from '../../src/totp.js';
import { bootStack, PASSWORD, TEST_KEY, TestClock, type Stack, type StackOptions } from './stack.js';

/** A database engine the suite runs against. */
export interface SuiteTarget {
  readonly driver: 'sqlite' | 'postgresql';
  /** Options of the `database` plugin for a new, empty database. */
  fresh(): Promise<Record<string, unknown>>;
  /** Options of a new, empty database that two kernels can open at once (two instances of one app). */
  shared(): Promise<Record<string, unknown>>;
  /** A table's name for raw SQL on a database made by `fresh()`/`shared()` with these options. */
  table(database: Record<string, unknown>, name: string): string;
}

const VERIFY = '/api/v1/auth/mfa/verify';
const ENROLL = '/api/v1/auth/mfa/totp/enroll';
const CONFIRM = '/api/v1/auth/mfa/totp/confirm';
const TOTP = '/api/v1/auth/mfa/totp';

/** Registers the shared suite for `target`. */
export function mfaSuite(target: SuiteTarget): void {
  describe(`mfa plugin on ${target.driver}`, function () {
    this.timeout(60_000);
    const stacks: Stack[] = [];
    afterEach(async () => {
      while (stacks.length) await stacks.pop()!.stop();
    });
    const boot = async (options: StackOptions = {}): Promise<Stack> => {
      const stack = await bootStack({ database: options.database ?? (await target.fresh()), ...options });
      stacks.push(stack);
      return stack;
    };
    const audit = async (stack: Stack, userId: string): Promise<AuditEntry[]> =>
      [...(await stack.tk.get(AuditToken).query({ actorId: userId, limit: 500 })).items].reverse();
    const verify = (stack: Stack, mfaToken: string, code: string) =>
      stack.call('POST', VERIFY, { body: { mfaToken, code } });

    it('enrols, confirms and then asks every sign-in for a code: signup → verify email → login → enroll → confirm → login → verify', async () => {
      const stack = await boot();
      const id = await stack.account('ada@example.com');
      const first = await stack.login('ada@example.com');
      expect(first.body).to.have.keys('accessToken', 'refreshToken', 'expiresIn', 'tokenType');
      const token = first.body.accessToken as string;

      const enroll = await stack.call('POST', ENROLL, { token });
      expect(enroll.status, enroll.text).to.equal(200);
      expect(enroll.headers['cache-control']).to.equal('no-store');
      const { secret, otpauthUrl } = enroll.body as { secret: string; otpauthUrl: string };
      expect(secret).to.match(/^[A-Z2-7]{32}$/);
      const url = new URL(otpauthUrl);
      expect(url.protocol).to.equal('otpauth:');
      expect(decodeURIComponent(otpauthUrl)).to.include('Gantry:ada@example.com');
      expect(url.searchParams.get('secret')).to.equal(secret);
      expect(url.searchParams.get('issuer')).to.equal('Gantry');
      expect(await stack.tk.get(MfaToken).status(id)).to.deep.equal({ totp: 'pending', recoveryCodesLeft: 0 });

      // Pending is not active: the sign-in still answers tokens.
      expect((await stack.login('ada@example.com')).body).to.have.property('accessToken');

      const wrong = await stack.call('POST', CONFIRM, { token, body: { code: await stack.code(secret, 3) } });
      expect(wrong.status).to.equal(400);
      expect(wrong.body.code).to.equal('GANTRY_MFA_CONFIRM_FAILED');

      const confirm = await stack.call('POST', CONFIRM, { token, body: { code: await stack.code(secret) } });
      expect(confirm.status, confirm.text).to.equal(200);
      const codes = confirm.body.recoveryCodes as string[];
      expect(codes).to.have.length(10);
      expect(new Set(codes).size).to.equal(10);
      for (const c of codes) expect(c).to.match(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
      expect(await stack.tk.get(MfaToken).status(id)).to.deep.equal({ totp: 'active', recoveryCodesLeft: 10 });

      const challenged = await stack.login('ada@example.com');
      expect(challenged.status).to.equal(200);
      expect(challenged.body).to.have.keys('mfaRequired', 'mfaToken');
      expect(challenged.body.mfaRequired).to.equal(true);
      expect(challenged.body.mfaToken).to.match(/^[A-Za-z0-9_-]{43}$/);

      stack.clock.advance(30);
      const done = await verify(stack, challenged.body.mfaToken, await stack.code(secret));
      expect(done.status, done.text).to.equal(200);
      expect(done.body).to.have.keys('accessToken', 'refreshToken', 'expiresIn', 'tokenType');
      expect(done.headers['cache-control']).to.equal('no-store');
      const me = await stack.call('GET', '/api/v1/users/me', { token: done.body.accessToken });
      expect(me.status).to.equal(200);
      expect(me.body.email).to.equal('ada@example.com');

      // The users plugin finished the sign-in with the first factor's method, taken from the challenge.
      const logins = (await audit(stack, id)).filter((e) => e.action === 'auth.login' && e.outcome === 'success');
      expect(logins.at(-1)!.details).to.have.property('method', 'password');
    });

    it('needs a signed-in caller to enrol, confirm or disable', async () => {
      const stack = await boot();
      for (const [method, url, body] of [
        ['POST', ENROLL, undefined],
        ['POST', CONFIRM, { code: '123456' }],
        ['DELETE', TOTP, { code: '123456' }],
      ] as const) {
        const res = await stack.call(method, url, { body });
        expect(res.status, url).to.equal(401);
        expect(res.body.code).to.equal('GANTRY_HTTP_UNAUTHENTICATED');
      }
    });

    it('replaces a pending enrolment when enrolling again, and refuses to enrol while TOTP is active (409)', async () => {
      const stack = await boot();
      await stack.account('bo@example.com');
      const token = (await stack.login('bo@example.com')).body.accessToken as string;
      const old = (await stack.call('POST', ENROLL, { token })).body.secret as string;
      const fresh = (await stack.call('POST', ENROLL, { token })).body.secret as string;
      expect(fresh).to.not.equal(old);
      const stale = await stack.call('POST', CONFIRM, { token, body: { code: await stack.code(old) } });
      expect(stale.body.code).to.equal('GANTRY_MFA_CONFIRM_FAILED');
      expect((await stack.call('POST', CONFIRM, { token, body: { code: await stack.code(fresh) } })).status).to.equal(
        200,
      );
      const again = await stack.call('POST', ENROLL, { token });
      expect(again.status).to.equal(409);
      expect(again.body.code).to.equal('GANTRY_MFA_ALREADY_ENABLED');
      const reconfirm = await stack.call('POST', CONFIRM, { token, body: { code: await stack.code(fresh, 1) } });
      expect(reconfirm.status).to.equal(409);
      expect(reconfirm.body.code).to.equal('GANTRY_MFA_ALREADY_ENABLED');
    });

    it('accepts the codes of the previous, current and next step, and refuses a code two steps old or ahead', async () => {
      const stack = await boot();
      const user = await stack.enrolled('cy@example.com');
      // Two steps past the confirmation, so the previous step is newer than the confirmed one.
      stack.clock.advance(60);
      const ok = async (offset: number): Promise<number> =>
        (await verify(stack, await stack.challenge(user.email), await stack.code(user.secret, offset))).status;
      // Each accepted step must be newer than the last: walk forward through the window.
      expect(await ok(-1)).to.equal(200);
      expect(await ok(0)).to.equal(200);
      expect(await ok(1)).to.equal(200);
      stack.clock.advance(5 * 30);
      const old = await verify(stack, await stack.challenge(user.email), await stack.code(user.secret, -2));
      expect(old.status).to.equal(401);
      expect(old.body.code).to.equal('GANTRY_MFA_CODE_INVALID');
      const ahead = await verify(stack, await stack.challenge(user.email), await stack.code(user.secret, 2));
      expect(ahead.body.code).to.equal('GANTRY_MFA_CODE_INVALID');
      expect(await ok(0)).to.equal(200);
    });

    it('accepts a code once: its replay is refused within its window, and so is any older step after a newer one', async () => {
      const stack = await boot();
      const user = await stack.enrolled('di@example.com');
      const code = await stack.code(user.secret);
      expect((await verify(stack, await stack.challenge(user.email), code)).status).to.equal(200);
      const replay = await verify(stack, await stack.challenge(user.email), code);
      expect(replay.status).to.equal(401);
      expect(replay.body.code).to.equal('GANTRY_MFA_CODE_INVALID');
      // Still inside its window 20 s later: refused all the same.
      stack.clock.advance(20);
      expect((await verify(stack, await stack.challenge(user.email), code)).status).to.equal(401);
      // The step before the accepted one is inside the window too, but older: refused.
      expect(
        (await verify(stack, await stack.challenge(user.email), await stack.code(user.secret, -1))).status,
      ).to.equal(401);
      // The code of the confirmation cannot be replayed at sign-in either (enrolled() confirmed one step ago).
      const fresh = await stack.enrolled('di2@example.com');
      expect(
        (await verify(stack, await stack.challenge(fresh.email), await stack.code(fresh.secret, -1))).status,
      ).to.equal(401);
    });

    it('accepts a step and spends a recovery code atomically: of two writers that read the same row, only one wins', async () => {
      const stack = await boot();
      const user = await stack.enrolled('ed@example.com');
      const db = stack.tk.get(DatabaseToken);
      const row = (await db.em().findOne(MfaTotpEntity, { userId: user.id }, { disableIdentityMap: true }))!;
      const step = row.lastStep! + 1;
      const now = new Date(stack.clock.ms);
      // Both from the same row, like two instances that read it before either wrote (each call on its own EntityManager).
      const accepted = await Promise.all([
        acceptTotpStep(db.em(), row, step, now),
        acceptTotpStep(db.em(), row, step, now),
      ]);
      expect(accepted.sort()).to.deep.equal([false, true]);
      expect(await acceptTotpStep(db.em(), row, step - 1, now), 'an older step').to.equal(false);
      expect(await acceptTotpStep(db.em(), row, step + 1, now), 'a newer step').to.equal(true);
      const hash = new SecretBox(parseKey(TEST_KEY, 'test')).recoveryHash(
        user.id,
        normalizeRecoveryCode(user.recoveryCodes[0]!)!,
      );
      const spent = await Promise.all([
        spendRecoveryCode(db, user.id, hash, now),
        spendRecoveryCode(db, user.id, hash, now),
      ]);
      expect(spent.sort()).to.deep.equal([false, true]);
      expect((await stack.tk.get(MfaToken).status(user.id)).recoveryCodesLeft).to.equal(9);
    });

    it('lets only one of two instances on one database accept the same code', async () => {
      const database = await target.shared();
      const clock = new TestClock();
      const one = await boot({ database, clock });
      const two = await boot({ database, clock });
      const user = await one.enrolled('fay@example.com');
      const [a, b] = [await one.challenge(user.email), await two.challenge(user.email)];
      const code = await one.code(user.secret);
      for (let round = 0; round < 3; round++) {
        const results = await Promise.all([verify(one, a, code), verify(two, b, code)]);
        // The first round lets exactly one through; later rounds find the code spent on both instances.
        expect(
          results.filter((r) => r.status === 200),
          `round ${round}`,
        ).to.have.length(round === 0 ? 1 : 0);
      }
    });

    it('locks the account after 5 wrong codes in a row: the 6th attempt is refused with 429 even with the right code, until the lock ends', async () => {
      const stack = await boot();
      const user = await stack.enrolled('gus@example.com');
      for (let i = 1; i <= 5; i++) {
        // Each on a new challenge: the count is per account, not per mfaToken.
        const res = await verify(stack, await stack.challenge(user.email), await stack.wrong(user.secret));
        expect(res.status, `attempt ${i}`).to.equal(401);
        expect(res.body.code).to.equal('GANTRY_MFA_CODE_INVALID');
      }
      const mfaToken = await stack.challenge(user.email);
      const locked = await verify(stack, mfaToken, await stack.code(user.secret));
      expect(locked.status).to.equal(429);
      expect(locked.body.code).to.equal('GANTRY_MFA_LOCKED');
      expect(Number(locked.headers['retry-after'])).to.equal(15 * 60);
      // Recovery codes are locked out too.
      expect((await verify(stack, mfaToken, user.recoveryCodes[0]!)).status).to.equal(429);
      expect((await stack.tk.get(MfaToken).status(user.id)).lockedUntil).to.equal(
        new Date(stack.clock.ms + 15 * 60_000).toISOString(),
      );
      stack.clock.advance(10 * 60);
      const later = await verify(stack, await stack.challenge(user.email), await stack.code(user.secret));
      expect(later.status).to.equal(429);
      expect(Number(later.headers['retry-after'])).to.equal(5 * 60);
      stack.clock.advance(5 * 60);
      expect((await verify(stack, await stack.challenge(user.email), await stack.code(user.secret))).status).to.equal(
        200,
      );
      expect(await stack.tk.get(MfaToken).status(user.id)).to.not.have.property('lockedUntil');
      const lock = (await audit(stack, user.id)).filter((e) => e.action === 'auth.mfa.lock');
      expect(lock).to.have.length(1);
      expect(lock[0]!.outcome).to.equal('success');
    });

    it('resets the count of wrong codes on a success', async () => {
      const stack = await boot({ mfa: { encryptionKey: TEST_KEY, maxAttempts: 3, lockSeconds: 120 } });
      const user = await stack.enrolled('hal@example.com');
      const mfaToken = await stack.challenge(user.email);
      for (let i = 0; i < 2; i++)
        expect((await verify(stack, mfaToken, await stack.wrong(user.secret))).status).to.equal(401);
      expect((await verify(stack, mfaToken, await stack.code(user.secret))).status).to.equal(200);
      const next = await stack.challenge(user.email);
      for (let i = 0; i < 2; i++)
        expect((await verify(stack, next, await stack.wrong(user.secret))).status).to.equal(401);
      stack.clock.advance(30);
      expect(
        (await verify(stack, next, await stack.code(user.secret))).status,
        'not locked: the success reset the count',
      ).to.equal(200);
      // The third wrong code in a row locks, for the configured time.
      const third = await stack.challenge(user.email);
      for (let i = 0; i < 3; i++)
        expect((await verify(stack, third, await stack.wrong(user.secret))).status).to.equal(401);
      stack.clock.advance(30);
      const locked = await verify(stack, third, await stack.code(user.secret));
      expect(locked.status).to.equal(429);
      expect(Number(locked.headers['retry-after'])).to.equal(90);
    });

    it('accepts each recovery code once, in any case and without dashes', async () => {
      const stack = await boot();
      const user = await stack.enrolled('ivy@example.com');
      const [first, second] = user.recoveryCodes as [string, string];
      const used = await verify(stack, await stack.challenge(user.email), first);
      expect(used.status, used.text).to.equal(200);
      expect(used.body).to.have.property('accessToken');
      const again = await verify(stack, await stack.challenge(user.email), first);
      expect(again.status).to.equal(401);
      expect(again.body.code).to.equal('GANTRY_MFA_CODE_INVALID');
      expect(
        (await verify(stack, await stack.challenge(user.email), second.replace(/-/g, '').toUpperCase())).status,
      ).to.equal(200);
      expect(await stack.tk.get(MfaToken).status(user.id)).to.deep.equal({ totp: 'active', recoveryCodesLeft: 8 });
      const entries = (await audit(stack, user.id)).filter((e) => e.action === 'auth.mfa.recovery_code');
      expect(entries.map((e) => e.details)).to.deep.equal([{ remaining: 9 }, { remaining: 8 }]);
    });

    it('uses a challenge once, and not after it expires', async () => {
      const stack = await boot();
      const user = await stack.enrolled('jo@example.com');
      const mfaToken = await stack.challenge(user.email);
      expect((await verify(stack, mfaToken, await stack.code(user.secret))).status).to.equal(200);
      stack.clock.advance(30);
      const reused = await verify(stack, mfaToken, await stack.code(user.secret));
      expect(reused.status).to.equal(401);
      expect(reused.body.code).to.equal('GANTRY_MFA_CHALLENGE_INVALID');
      const late = await stack.challenge(user.email);
      stack.clock.advance(5 * 60 + 1);
      expect((await verify(stack, late, await stack.code(user.secret))).body.code).to.equal(
        'GANTRY_MFA_CHALLENGE_INVALID',
      );
      for (const bogus of ['x', 'A'.repeat(43)])
        expect((await verify(stack, bogus, await stack.code(user.secret))).body.code).to.equal(
          'GANTRY_MFA_CHALLENGE_INVALID',
        );
      const invalid = await stack.call('POST', VERIFY, { body: { mfaToken: late } });
      expect(invalid.status).to.equal(400);
      expect(invalid.body.code).to.equal('GANTRY_HTTP_VALIDATION');
    });

    it('disables TOTP only with the password and a current or recovery code', async () => {
      const stack = await boot();
      const user = await stack.enrolled('kim@example.com');
      const disable = (body: Record<string, unknown>) => stack.call('DELETE', TOTP, { token: user.token, body });
      const noPassword = await disable({ code: await stack.code(user.secret) });
      expect(noPassword.status).to.equal(403);
      expect(noPassword.body.code).to.equal('GANTRY_MFA_REAUTH_FAILED');
      expect(
        (await disable({ password: 'Wrong-Horse-Battery-9', code: await stack.code(user.secret) })).body.code,
      ).to.equal('GANTRY_MFA_REAUTH_FAILED');
      expect((await disable({ password: PASSWORD, code: await stack.wrong(user.secret) })).body.code).to.equal(
        'GANTRY_MFA_REAUTH_FAILED',
      );
      expect((await stack.tk.get(MfaToken).status(user.id)).totp).to.equal('active');
      const ok = await disable({ password: PASSWORD, code: await stack.code(user.secret) });
      expect(ok.status, ok.text).to.equal(204);
      expect(await stack.tk.get(MfaToken).status(user.id)).to.deep.equal({ totp: 'off', recoveryCodesLeft: 0 });
      expect((await stack.login(user.email)).body).to.have.property('accessToken');
      const none = await disable({ password: PASSWORD, code: '123456' });
      expect(none.status).to.equal(404);
      expect(none.body.code).to.equal('GANTRY_MFA_NOT_ENROLLED');

      const other = await stack.enrolled('lu@example.com');
      const byRecovery = await stack.call('DELETE', TOTP, {
        token: other.token,
        body: { password: PASSWORD, code: other.recoveryCodes[3] },
      });
      expect(byRecovery.status, byRecovery.text).to.equal(204);
      const trail = (await audit(stack, other.id)).filter((e) => e.action === 'auth.mfa.disable');
      expect(trail.map((e) => [e.outcome, e.details])).to.deep.equal([['success', { factor: 'recovery-code' }]]);
    });

    it('counts wrong codes sent to disable toward the lock', async () => {
      const stack = await boot();
      const user = await stack.enrolled('max@example.com');
      for (let i = 0; i < 5; i++)
        expect(
          (
            await stack.call('DELETE', TOTP, {
              token: user.token,
              body: { password: PASSWORD, code: await stack.wrong(user.secret) },
            })
          ).status,
        ).to.equal(403);
      const locked = await stack.call('DELETE', TOTP, {
        token: user.token,
        body: { password: PASSWORD, code: await stack.code(user.secret) },
      });
      expect(locked.status).to.equal(429);
      expect(locked.body.code).to.equal('GANTRY_MFA_LOCKED');
      expect((await verify(stack, await stack.challenge(user.email), await stack.code(user.secret))).status).to.equal(
        429,
      );
    });

    it('audits every MFA event, and never a secret, a code or an mfaToken anywhere: responses, logs, audit trail, tables', async () => {
      const stack = await boot();
      const user = await stack.enrolled('nia@example.com');
      const mfaToken = await stack.challenge(user.email);
      expect((await verify(stack, mfaToken, await stack.wrong(user.secret))).status).to.equal(401);
      const totp = await stack.code(user.secret);
      expect((await verify(stack, mfaToken, totp)).status).to.equal(200);
      expect((await verify(stack, await stack.challenge(user.email), user.recoveryCodes[0]!)).status).to.equal(200);
      stack.clock.advance(30);
      const last = await stack.code(user.secret);
      expect(
        (await stack.call('DELETE', TOTP, { token: user.token, body: { password: PASSWORD, code: last } })).status,
      ).to.equal(204);

      const trail = await audit(stack, user.id);
      const events = trail.filter((e) => e.action.startsWith('auth.mfa.')).map((e) => `${e.action}:${e.outcome}`);
      expect(events).to.deep.equal([
        'auth.mfa.enroll:success',
        'auth.mfa.confirm:success',
        'auth.mfa.challenge:success',
        'auth.mfa.verify:failure',
        'auth.mfa.verify:success',
        'auth.mfa.challenge:success',
        'auth.mfa.recovery_code:success',
        'auth.mfa.verify:success',
        'auth.mfa.disable:success',
      ]);
      expect(
        trail
          .filter((e) => e.action === 'auth.mfa.verify')
          .every((e) => e.object?.id === user.id && e.ip === '127.0.0.1'),
      ).to.equal(true);

      const secrets = [
        user.secret,
        totp,
        last,
        mfaToken,
        ...user.recoveryCodes,
        ...user.recoveryCodes.map((c) => c.replace(/-/g, '')),
      ];
      const leaks = (text: string): string[] => secrets.filter((s) => text.includes(s));
      const withSecret = stack.responses.filter((r) => r.text?.includes(user.secret));
      expect(withSecret.map((r) => Object.keys(r.body))).to.deep.equal([['secret', 'otpauthUrl']]);
      expect(leaks(JSON.stringify(stack.lines))).to.deep.equal([]);
      expect(leaks(JSON.stringify(trail))).to.deep.equal([]);
    });

    it('stores the secret encrypted (AES-256-GCM), recovery codes and mfaTokens only as hashes', async () => {
      const database = await target.fresh();
      const stack = await boot({ database });
      const user = await stack.enrolled('oz@example.com');
      const mfaToken = await stack.challenge(user.email);
      const connection = stack.tk.get(DatabaseToken).em().getConnection();
      const dump = JSON.stringify([
        await connection.execute(`select * from ${target.table(database, 'mfa_totp')}`),
        await connection.execute(`select * from ${target.table(database, 'mfa_recovery_code')}`),
        await connection.execute(`select * from ${target.table(database, 'mfa_challenge')}`),
      ]);
      for (const s of [
        user.secret,
        user.secret.toLowerCase(),
        mfaToken,
        ...user.recoveryCodes,
        ...user.recoveryCodes.map((c) => c.replace(/-/g, '')),
      ])
        expect(dump).to.not.include(s);
      const [row] = (await connection.execute(`select secret from ${target.table(database, 'mfa_totp')}`)) as {
        secret: string;
      }[];
      expect(row!.secret).to.match(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    });

    it('cannot read secrets with another key: verification fails closed, without a 200', async () => {
      const database = await target.shared();
      const clock = new TestClock();
      const one = await boot({ database, clock });
      const user = await one.enrolled('pia@example.com');
      const other = await boot({ database, clock, mfa: { encryptionKey: Buffer.alloc(32, 7).toString('hex') } });
      const res = await verify(other, await other.challenge(user.email), await other.code(user.secret));
      expect(res.status).to.equal(500);
      expect(res.body.code).to.equal('GANTRY_MFA_SECRET_UNREADABLE');
      expect(res.text).to.not.include(user.secret);
    });

    it('drops the MFA rows with the account', async () => {
      const database = await target.fresh();
      const stack = await boot({ database });
      const user = await stack.enrolled('quinn@example.com');
      await stack.challenge(user.email);
      const connection = stack.tk.get(DatabaseToken).em().getConnection();
      await connection.execute(`delete from ${target.table(database, 'user_account')} where id = ?`, [user.id]);
      for (const table of ['mfa_totp', 'mfa_recovery_code', 'mfa_challenge']) {
        const rows = (await connection.execute(`select count(*) as n from ${target.table(database, table)}`)) as {
          n: number | string;
        }[];
        expect(Number(rows[0]!.n), table).to.equal(0);
      }
    });
  });
}
