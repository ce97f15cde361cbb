import { expect } from 'chai';
import { bootApp, type BootedApp } from './boot.js';

const PASSWORD = 'Correct-Horse-Battery-9';

describe('accounts (users plugin)', () => {
  let app: BootedApp;
  before(async () => {
    app = await bootApp();
  });
  after(() => app?.stop());

  it('signs up, verifies the mailed link, signs in and reads the own profile', async () => {
    const signup = await app.call('POST', '/api/v1/auth/signup', { body: { email: 'ada@example.com', password: PASSWORD, name: 'Ada' } });
    expect(signup.status, signup.text).to.equal(201);
    const early = await app.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: PASSWORD } });
    expect(early.status, 'sign-in before verification').to.equal(403);

    // The link's token, once quoted-printable soft line breaks and "=3D" are undone.
    const mail = (await app.mail('ada@example.com', /Subject: Verify your email/)).replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const token = /token=([A-Za-z0-9_-]+)/.exec(mail)?.[1];
    expect(token, 'a token in the verification mail').to.be.a('string');
    const verified = await app.call('POST', '/api/v1/auth/verify-email', { body: { token } });
    expect(verified.status, verified.text).to.equal(204);

    const login = await app.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: PASSWORD } });
    expect(login.status, login.text).to.equal(200);
    expect(login.body.accessToken).to.be.a('string');
    const me = await app.call('GET', '/api/v1/users/me', { token: login.body.accessToken });
    expect(me.status, me.text).to.equal(200);
    expect(me.body).to.include({ email: 'ada@example.com', emailVerified: true });
  });

  it('refuses a wrong password with 401 problem+json', async () => {
    const res = await app.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: `${PASSWORD}x` } });
    expect(res.status).to.equal(401);
    expect(res.body.code).to.be.a('string');
  });
});
