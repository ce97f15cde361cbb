import { AuditToken } from '@gantry/plugin-audit';
import { ADMIN_ROLE, RbacToken, USER_ROLE } from '@gantry/plugin-rbac';
import { expect } from 'chai';
import { UsersToken } from '../src/index.js';
import { bootStack, type Stack } from './support/stack.js';

const PW = 'Correct-Horse-Battery-9';

describe('users: sign-up, verification, sign-in', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await bootStack();
  });
  afterEach(() => stack.stop());

  it('signs up (201 view, no hash), refuses sign-in before verification, then signs in after the mailed link', async () => {
    const signup = await stack.call('POST', '/api/v1/auth/signup', {
      body: { email: 'Ada@Example.com', password: PW, name: 'Ada' },
    });
    expect(signup.status, signup.text).to.equal(201);
    expect(signup.body).to.include({ email: 'Ada@Example.com', name: 'Ada', emailVerified: false, status: 'active' });
    expect(signup.body.roles).to.deep.equal(['user']);
    expect(signup.text).to.not.match(/argon2|passwordHash/i);
    const early = await stack.call('POST', '/api/v1/auth/login', { body: { email: 'ada@example.com', password: PW } });
    expect(early.status).to.equal(403);
    expect(early.body.code).to.equal('GANTRY_USERS_EMAIL_NOT_VERIFIED');
    const token = await stack.mailedToken('Ada@Example.com', /Subject: Verify your email/);
    expect((await stack.call('POST', '/api/v1/auth/verify-email', { body: { token } })).status).to.equal(204);
    expect((await stack.call('POST', '/api/v1/auth/verify-email', { body: { token } })).body.code).to.equal(
      'GANTRY_USERS_TOKEN_INVALID',
    );
    const pair = await stack.login('ADA@example.com', PW);
    expect(pair).to.have.keys('accessToken', 'refreshToken', 'expiresIn', 'tokenType');
    const me = await stack.call('GET', '/api/v1/users/me', { token: pair.accessToken });
    expect(me.status).to.equal(200);
    expect(me.body).to.include({ email: 'Ada@Example.com', emailVerified: true });
  });

  it('refuses short, overlong and common passwords and the email as password, keeping Unicode exact', async () => {
    for (const [password, reason] of [
      ['short7!', 'too-short'],
      ['x'.repeat(129), 'too-long'],
      ['password1', 'common'],
      ['Qwertyuiop', 'common'],
    ] as const) {
      const res = await stack.call('POST', '/api/v1/auth/signup', {
        body: { email: 'weak@example.com', password, name: 'W' },
      });
      expect(res.status, password).to.equal(400);
      expect(res.body.code).to.equal('GANTRY_USERS_PASSWORD_WEAK');
      expect(
        res.body.errors?.[0]?.reason ?? res.body.details?.errors?.[0]?.reason ?? JSON.stringify(res.body),
      ).to.include(reason);
    }
    // 8 code points, 16 UTF-16 units: counted as 8, accepted; a composed vs decomposed é are different passwords.
    const emoji = '🔑🔒🗝🛡🔐🧷📎🖇';
    await stack.account('uni@example.com', emoji);
    expect(
      (await stack.call('POST', '/api/v1/auth/login', { body: { email: 'uni@example.com', password: emoji } })).status,
    ).to.equal(200);
    await stack.account('accent@example.com', 'caf\u00e9-caf\u00e9-42');
    expect(
      (
        await stack.call('POST', '/api/v1/auth/login', {
          body: { email: 'accent@example.com', password: 'cafe\u0301-cafe\u0301-42' },
        })
      ).status,
    ).to.equal(401);
  });

  it('answers an unknown email and a wrong password identically', async () => {
    await stack.account('known@example.com', PW);
    const unknown = await stack.call('POST', '/api/v1/auth/login', {
      body: { email: 'nobody@example.com', password: PW },
    });
    const wrong = await stack.call('POST', '/api/v1/auth/login', {
      body: { email: 'known@example.com', password: `${PW}x` },
    });
    expect(unknown.status).to.equal(401);
    expect(wrong.status).to.equal(401);
    const strip = (b: Record<string, unknown>) => ({ ...b, instance: undefined, requestId: undefined });
    expect(strip(unknown.body)).to.deep.equal(strip(wrong.body));
  });

  it('answers a sign-up with a used address like a new one and mails the owner instead', async () => {
    await stack.account('taken@example.com', PW);
    const again = await stack.call('POST', '/api/v1/auth/signup', {
      body: { email: 'TAKEN@example.com', password: 'Another-Good-Pass-7', name: 'Mallory' },
    });
    expect(again.status).to.equal(201);
    expect(again.body).to.have.keys(
      'id',
      'email',
      'name',
      'emailVerified',
      'status',
      'roles',
      'createdAt',
      'updatedAt',
    );
    expect((await stack.readMail('taken@example.com', /Subject: Someone tried to create an account/)).text).to.include(
      'already has an account',
    );
    // The original password still works, the attacker's does not.
    expect(
      (
        await stack.call('POST', '/api/v1/auth/login', {
          body: { email: 'taken@example.com', password: 'Another-Good-Pass-7' },
        })
      ).status,
    ).to.equal(401);
    expect(
      (await stack.call('POST', '/api/v1/auth/login', { body: { email: 'taken@example.com', password: PW } })).status,
    ).to.equal(200);
  });
  it('audits each refresh: success with the account, failure with the error code and no actor, reuse with the account', async () => {
    const id = await stack.account('fresh@example.com', PW);
    const pair = await stack.login('fresh@example.com', PW);
    const rotated = await stack.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: pair.refreshToken } });
    expect(rotated.status).to.equal(200);
    const forged = await stack.call('POST', '/api/v1/auth/refresh', {
      body: { refreshToken: `${pair.refreshToken.slice(0, -4)}AAAA` },
    });
    expect(forged.status).to.equal(401);
    expect(
      (await stack.call('POST', '/api/v1/auth/refresh', { body: { refreshToken: pair.refreshToken } })).status,
    ).to.equal(401);
    const trail = (await stack.tk.get(AuditToken).query({ limit: 50 })).items
      .filter((e) => e.action.startsWith('auth.token.'))
      .reverse();
    expect(trail.map((e) => `${e.action}:${e.outcome}`)).to.deep.equal([
      'auth.token.refresh:success',
      'auth.token.refresh:failure',
      'auth.token.reuse:failure',
    ]);
    expect(trail[0]!.actor).to.deep.include({ id });
    expect(trail[1]!.actor).to.equal(null);
    expect(trail[1]!.details).to.deep.equal({ reason: forged.body.code });
    expect(trail[2]!.actor).to.deep.include({ id });
    expect(JSON.stringify(trail)).to.not.include(pair.refreshToken.split('.')[2]!);
  });
  it('no escalation: an account manager cannot grant admin, nor change, disable or delete an admin (403), but manages plain accounts', async () => {
    const rbac = stack.tk.get(RbacToken);
    await rbac.createRole({
      name: 'account-manager',
      description: 'Manages accounts',
      permissions: ['users:read', 'users:write', 'roles:write'],
    });
    const adminId = await stack.account('root@example.com', PW);
    await rbac.setRoles(adminId, [ADMIN_ROLE]);
    const managerId = await stack.account('manager@example.com', PW);
    await rbac.setRoles(managerId, ['account-manager']);
    const plainId = await stack.account('plain@example.com', PW);
    const { accessToken: token } = await stack.login('manager@example.com', PW);
    const refused = [
      await stack.call('PUT', `/api/v1/users/${plainId}/roles`, { token, body: { roles: [ADMIN_ROLE] } }),
      await stack.call('PUT', `/api/v1/users/${adminId}/roles`, { token, body: { roles: [USER_ROLE] } }),
      await stack.call('PATCH', `/api/v1/users/${adminId}`, { token, body: { status: 'disabled' } }),
      await stack.call('DELETE', `/api/v1/users/${adminId}`, { token }),
      await stack.call('POST', '/api/v1/users', {
        token,
        body: { email: 'new-admin@example.com', password: PW, name: 'N', roles: [ADMIN_ROLE] },
      }),
    ];
    expect(refused.map((r) => `${r.status} ${r.body.code}`)).to.deep.equal(Array(5).fill('403 GANTRY_RBAC_ESCALATION'));
    expect(await rbac.rolesOf(adminId)).to.deep.equal([ADMIN_ROLE]);
    expect(await rbac.rolesOf(plainId)).to.deep.equal([USER_ROLE]);
    expect((await stack.call('GET', `/api/v1/users/${adminId}`, { token })).body.status).to.equal('active');
    expect(await stack.tk.get(UsersToken).findByEmail('new-admin@example.com')).to.equal(undefined);
    expect(
      (await stack.call('PATCH', `/api/v1/users/${plainId}`, { token, body: { name: 'Renamed' } })).status,
    ).to.equal(200);
    expect(
      (await stack.call('PUT', `/api/v1/users/${plainId}/roles`, { token, body: { roles: [USER_ROLE] } })).status,
    ).to.equal(200);
  });
  it('reads an account by its id in upper case (UUIDs are case-insensitive on input), never a 404', async () => {
    const rootId = await stack.account('root@example.com', PW);
    await stack.tk.get(RbacToken).setRoles(rootId, [ADMIN_ROLE]);
    const { accessToken: token } = await stack.login('root@example.com', PW);
    const upper = await stack.call('GET', `/api/v1/users/${rootId.toUpperCase()}`, { token });
    expect(upper.status, upper.text).to.equal(200);
    expect(upper.body.id).to.equal(rootId);
  });

  it('keeps an active administrator: a disabled admin does not count when the last active one gives up the role (409)', async () => {
    const rbac = stack.tk.get(RbacToken);
    const rootId = await stack.account('root@example.com', PW);
    const oldId = await stack.account('old@example.com', PW);
    await rbac.setRoles(rootId, [ADMIN_ROLE]);
    await rbac.setRoles(oldId, [ADMIN_ROLE]);
    const { accessToken: token } = await stack.login('root@example.com', PW);
    expect(
      (await stack.call('PATCH', `/api/v1/users/${oldId}`, { token, body: { status: 'disabled' } })).status,
    ).to.equal(200);
    const demote = await stack.call('PUT', `/api/v1/users/${rootId}/roles`, { token, body: { roles: [USER_ROLE] } });
    expect(`${demote.status} ${demote.body.code}`).to.equal('409 GANTRY_RBAC_LAST_ADMIN');
    expect(await rbac.rolesOf(rootId)).to.deep.equal([ADMIN_ROLE]);
    // Deleting the disabled admin is fine: root stays.
    expect((await stack.call('DELETE', `/api/v1/users/${oldId}`, { token })).status).to.equal(204);
  });
});
