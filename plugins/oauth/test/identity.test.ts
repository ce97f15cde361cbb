import { expect } from 'chai';
import { facebookIdentity, googleIdentity, oidcIdentity } from '../src/identity.js';

describe('oauth: which addresses count as verified', () => {
  it('OIDC: only email_verified exactly true', () => {
    expect(oidcIdentity({ email: 'a@example.com', email_verified: true, name: 'A' })).to.deep.equal({
      email: 'a@example.com',
      emailVerified: true,
      name: 'A',
    });
    for (const flag of [false, 'true', 1, undefined])
      expect(oidcIdentity({ email: 'a@example.com', email_verified: flag }).emailVerified, String(flag)).to.equal(
        false,
      );
    expect(oidcIdentity({ email_verified: true })).to.deep.include({ email: undefined, emailVerified: false });
  });

  it('Google: the verified flag of the first address, exactly true', () => {
    expect(googleIdentity({ displayName: 'G', emails: [{ value: 'g@example.com', verified: true }] })).to.deep.equal({
      email: 'g@example.com',
      emailVerified: true,
      name: 'G',
    });
    expect(googleIdentity({ emails: [{ value: 'g@example.com', verified: 'true' }] }).emailVerified).to.equal(false);
    expect(googleIdentity({ emails: [{ value: 'g@example.com' }] }).emailVerified).to.equal(false);
  });

  it('Facebook: a returned address counts as verified, none is refused', () => {
    expect(facebookIdentity({ displayName: 'F', emails: [{ value: 'f@example.com' }] })).to.deep.equal({
      email: 'f@example.com',
      emailVerified: true,
      name: 'F',
    });
    expect(facebookIdentity({ displayName: 'F' })).to.deep.equal({ email: undefined, emailVerified: false, name: 'F' });
  });

  it('refuses what is not an address, and names accounts sensibly', () => {
    for (const email of ['not-an-address', 'a b@example.com', `${'x'.repeat(250)}@example.com`, 42]) {
      expect(oidcIdentity({ email, email_verified: true }).emailVerified, String(email)).to.equal(false);
    }
    expect(oidcIdentity({ email: ' ada@example.com ', email_verified: true }).email).to.equal('ada@example.com');
    expect(oidcIdentity({ email: 'ada@example.com', email_verified: true }).name).to.equal('ada');
    expect(oidcIdentity({ email: 'ada@example.com', email_verified: true, name: 'Ada\r\nAdmin: yes' }).name).to.equal(
      'Ada Admin: yes',
    );
  });
});
