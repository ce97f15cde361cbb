// Mails to an address nobody has proven: whoever signs up chooses both the address and the display
// name, so the name (an advert, a link) never reaches that address until its owner has verified it.
import { RbacToken } from '@gantry/plugin-rbac';
import { expect } from 'chai';
import { bootStack, type Stack } from './support/stack.js';

const PW = 'Correct-Horse-Battery-9';
const ADVERT = 'Claim your prize at https://evil.example/win now';

/** Both parts of a rendered mail, for "must not contain" checks. */
function whole(mail: { text: string; html: string }): string {
  return `${mail.text}\n${mail.html}`;
}

describe('users: mails never carry an unverified display name', () => {
  let stack: Stack;
  afterEach(() => stack.stop());

  describe('with the defaults', () => {
    beforeEach(async () => {
      stack = await bootStack();
    });

    it('greets the verification mail without the name given at sign-up', async () => {
      const signup = await stack.call('POST', '/api/v1/auth/signup', {
        body: { email: 'victim@example.com', password: PW, name: ADVERT },
      });
      expect(signup.status, signup.text).to.equal(201);
      const mail = await stack.readMail('victim@example.com', /Subject: Verify your email/);
      expect(mail.text).to.match(/^Hello,$/m);
      expect(whole(mail)).to.not.include('evil.example');
      expect(whole(mail)).to.not.include('prize');
      // The link in it is still ours and works.
      expect(mail.text).to.include('https://app.gantry.test/verify-email?token=');
      const token = await stack.mailedToken('victim@example.com', /Subject: Verify your email/);
      expect((await stack.call('POST', '/api/v1/auth/verify-email', { body: { token } })).status).to.equal(204);
    });

    it('greets the account-exists notice without a name and gives an active owner a working reset link', async () => {
      // An unverified account squatting the address, its name chosen by the squatter.
      await stack.call('POST', '/api/v1/auth/signup', {
        body: { email: 'owner@example.com', password: PW, name: ADVERT },
      });
      const again = await stack.call('POST', '/api/v1/auth/signup', {
        body: { email: 'owner@example.com', password: 'Another-Good-Pass-7', name: `${ADVERT} again` },
      });
      expect(again.status).to.equal(201);
      const notice = await stack.readMail('owner@example.com', /Subject: Someone tried to create an account/);
      expect(notice.text).to.match(/^Hello,$/m);
      expect(whole(notice)).to.not.include('evil.example');
      expect(notice.text).to.match(/within 60 minutes/);
      expect(notice.text).to.include('Later, ask for a new link here: https://app.gantry.test/forgot-password');
      // The owner takes the address back with the link: new password, address verified.
      const token = await stack.mailedToken('owner@example.com', /Subject: Someone tried to create an account/);
      expect(
        (await stack.call('POST', '/api/v1/auth/password/reset', { body: { token, password: 'Owners-Own-Pass-7' } }))
          .status,
      ).to.equal(204);
      const me = await stack.call('GET', '/api/v1/users/me', {
        token: (await stack.login('owner@example.com', 'Owners-Own-Pass-7')).accessToken,
      });
      expect(me.body.emailVerified).to.equal(true);

      // A disabled account's notice has no link: a reset would not let it sign in (forgot-password sends none either).
      const id = await stack.account('gone@example.com', PW);
      const adminId = await stack.account('root@example.com', PW);
      await stack.tk.get(RbacToken).setRoles(adminId, ['admin']);
      const { accessToken: admin } = await stack.login('root@example.com', PW);
      expect(
        (await stack.call('PATCH', `/api/v1/users/${id}`, { token: admin, body: { status: 'disabled' } })).status,
      ).to.equal(200);
      expect(
        (
          await stack.call('POST', '/api/v1/auth/signup', {
            body: { email: 'gone@example.com', password: 'Another-Good-Pass-7', name: 'X' },
          })
        ).status,
      ).to.equal(201);
      const disabled = await stack.readMail('gone@example.com', /Subject: Someone tried to create an account/);
      expect(disabled.text).to.match(/^Hello,$/m);
      expect(disabled.text).to.include('already has an account');
      expect(disabled.text).to.not.include('token=');
    });

    it('greets a reset mail by name only once the address is verified', async () => {
      await stack.call('POST', '/api/v1/auth/signup', {
        body: { email: 'unproven@example.com', password: PW, name: ADVERT },
      });
      expect(
        (await stack.call('POST', '/api/v1/auth/password/forgot', { body: { email: 'unproven@example.com' } })).status,
      ).to.equal(202);
      const unproven = await stack.readMail('unproven@example.com', /Subject: Reset your password/);
      expect(unproven.text).to.match(/^Hello,$/m);
      expect(whole(unproven)).to.not.include('evil.example');

      await stack.account('proven@example.com', PW, 'Ada Lovelace');
      expect(
        (await stack.call('POST', '/api/v1/auth/password/forgot', { body: { email: 'proven@example.com' } })).status,
      ).to.equal(202);
      expect((await stack.readMail('proven@example.com', /Subject: Reset your password/)).text).to.match(
        /^Hello Ada Lovelace,$/m,
      );
    });
  });

  it('greets the new sign-in notice of an unverified account (requireVerifiedEmail: false) without its name', async () => {
    stack = await bootStack({ users: { requireVerifiedEmail: false, newLoginNotice: true } });
    await stack.call('POST', '/api/v1/auth/signup', {
      body: { email: 'early@example.com', password: PW, name: ADVERT },
    });
    await stack.login('early@example.com', PW);
    const notice = await stack.readMail('early@example.com', /Subject: New sign-in/);
    expect(notice.text).to.match(/^Hello,$/m);
    expect(whole(notice)).to.not.include('evil.example');
  });
});
