// Which routes need a caller and which credentials they accept, as authenticators read them.
import { expect } from 'chai';
import { acceptsCredential, requiresAuthentication } from '../src/index.js';

const route = (meta: Record<string, unknown>, root = false) => ({ root, meta });

describe('core: route access declarations', () => {
  it('a permission or meta.auth requires a caller; public and root routes do not', () => {
    expect(requiresAuthentication(route({ permission: 'notes:read' }))).to.equal(true);
    expect(requiresAuthentication(route({ auth: true }))).to.equal(true);
    expect(requiresAuthentication(route({ auth: 'bearer' }))).to.equal(true);
    expect(requiresAuthentication(route({ public: true }))).to.equal(false);
    expect(requiresAuthentication(route({ permission: 'x:y' }, true))).to.equal(false);
    expect(acceptsCredential(route({ auth: 'bearer' }), 'session')).to.equal(false);
    expect(acceptsCredential(route({ public: true }), 'bearer')).to.equal(false);
  });

  it("meta.auth 'optional' runs every authenticator without requiring a caller, on root routes too", () => {
    for (const r of [route({ public: true, auth: 'optional' }), route({ public: true, auth: 'optional' }, true)]) {
      expect(requiresAuthentication(r)).to.equal(false);
      expect(acceptsCredential(r, 'bearer')).to.equal(true);
      expect(acceptsCredential(r, 'session')).to.equal(true);
    }
  });
});
