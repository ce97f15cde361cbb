// The journey a new user takes, end to end on the real services, read back from the audit trail:
// sign up, read the verification mail, verify, sign in, enrol TOTP, sign in with a code, call a
// protected route, refresh, reuse a refresh token, reset the password.
import { expect } from 'chai';
import { generate } from 'otplib';
import { Cluster, linkIn, mailCount, mailTo } from './support/stack.js';

describe('journey: a new user from sign-up to password reset (PostgreSQL, Redis, MailDev)', function () {
  this.timeout(60_000);
  const cluster = new Cluster();
  before(() => cluster.start());
  after(() => cluster.stop());

  it('goes through every step, each one visible in the audit trail', async () => {
    const email = `journey-${Date.now()}@example.com`;
    const password = 'Journey-Horse-Battery-7';
    const { a, b } = cluster;

    const signup = await a.call('POST', '/api/v1/auth/signup', { body: { email, password, name: 'Jo Urney' } });
    expect(signup.status, signup.text).to.equal(201);
    const userId = signup.body.id as string;
    const verification = await mailTo(cluster, email, /Verify your email/);
    expect(
      (await b.call('POST', '/api/v1/auth/verify-email', { body: { token: linkIn(verification.text).token } })).status,
    ).to.equal(204);

    const first = await a.call('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(first.status, first.text).to.equal(200);
    const enroll = await b.call('POST', '/api/v1/auth/mfa/totp/enroll', { token: first.body.accessToken });
    expect(enroll.status, enroll.text).to.equal(200);
    const code = async (steps: number) =>
      String(await generate({ secret: enroll.body.secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 }));
    const confirm = await a.call('POST', '/api/v1/auth/mfa/totp/confirm', {
      token: first.body.accessToken,
      body: { code: await code(-1) },
    });
    expect(confirm.status, confirm.text).to.equal(200);

    const challenged = await b.call('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(challenged.body).to.include({ mfaRequired: true });
    expect(challenged.body).to.not.have.property('accessToken');
    const verified = await a.call('POST', '/api/v1/auth/mfa/verify', {
      body: { mfaToken: challenged.body.mfaToken, code: await code(1) },
    });
    expect(verified.status, verified.text).to.equal(200);

    const me = await b.call('GET', '/api/v1/users/me', { token: verified.body.accessToken });
    expect(me.status).to.equal(200);
    expect(me.body).to.include({ id: userId, email, emailVerified: true });

    const refreshed = await a.call('POST', '/api/v1/auth/refresh', {
      body: { refreshToken: verified.body.refreshToken },
    });
    expect(refreshed.status, refreshed.text).to.equal(200);
    const reused = await b.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: verified.body.refreshToken } });
    expect(reused.status).to.equal(401);
    expect(reused.body.code).to.equal('GANTRY_AUTH_JWT_REFRESH_REUSED');
    expect((await a.call('GET', '/api/v1/users/me', { token: refreshed.body.accessToken })).status).to.equal(401);

    const before = await mailCount(cluster);
    expect((await b.call('POST', '/api/v1/auth/password/forgot', { body: { email } })).status).to.equal(202);
    const reset = await mailTo(cluster, email, /Reset your password/, before);
    const newPassword = 'Journey-Reset-Battery-8';
    expect(
      (
        await a.call('POST', '/api/v1/auth/password/reset', {
          body: { token: linkIn(reset.text).token, password: newPassword },
        })
      ).status,
    ).to.equal(204);
    expect((await b.call('POST', '/api/v1/auth/login', { body: { email, password } })).status).to.equal(401);
    expect(
      (await b.call('POST', '/api/v1/auth/login', { body: { email, password: newPassword } })).body.mfaRequired,
    ).to.equal(true);

    await cluster.admin('journey-admin@example.com', 'Journey-Admin-Battery-9');
    const admin = await a.call('POST', '/api/v1/auth/login', {
      body: { email: 'journey-admin@example.com', password: 'Journey-Admin-Battery-9' },
    });
    const trail = await b.call('GET', `/api/v1/audit?actorId=${userId}&limit=100`, { token: admin.body.accessToken });
    expect(trail.status, trail.text).to.equal(200);
    const steps = (
      trail.body.items as {
        action: string;
        outcome: string;
        requestId: string | null;
        ip: string | null;
        time: string;
      }[]
    ).reverse();
    const actions = steps.map((e) => `${e.action}:${e.outcome}`);
    for (const expected of [
      'auth.signup:success',
      'auth.email.verify:success',
      'auth.login:success',
      'auth.mfa.enroll:success',
      'auth.mfa.confirm:success',
      'auth.mfa.verify:success',
      'auth.token.refresh:success',
      'auth.token.reuse:failure',
      'auth.password.reset:success',
      'auth.login:failure',
    ]) {
      expect(actions, `audit trail lacks ${expected}: ${actions.join(', ')}`).to.include(expected);
    }
    for (const entry of steps) {
      expect(entry.time).to.match(/Z$/);
      expect(entry.requestId).to.be.a('string');
    }
    expect(trail.text).to.not.include(password);
    expect(trail.text).to.not.include(enroll.body.secret);
  });
});
