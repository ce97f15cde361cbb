// Administrators on the real PostgreSQL (127.0.0.1:5432, database "test"): two instances sharing one
// schema of its own (dropped at the end), acting at the same moment.
import { postgresSchemas } from '@gantry/plugin-database/testing';
import { ADMIN_ROLE, RbacToken } from '@gantry/plugin-rbac';
import { expect } from 'chai';
import { UsersToken } from '../src/index.js';
import type { UsersService } from '../src/service.js';
import { bootStack, type Stack } from './support/stack.js';

const PW = 'Correct-Horse-Battery-9';
const pg = postgresSchemas('users');
after(() => pg.dropAll());

describe('users on postgresql: the last active administrator', function () {
  this.timeout(60_000);
  const stacks: Stack[] = [];
  afterEach(async () => {
    while (stacks.length) await stacks.pop()!.stop();
  });

  it('two administrators disabling each other at once on two instances: one stays active (409 GANTRY_RBAC_LAST_ADMIN)', async () => {
    const database = pg.fresh();
    const a = await bootStack({ database });
    stacks.push(a);
    const b = await bootStack({ database });
    stacks.push(b);
    const rbac = a.tk.get(RbacToken);
    let survivors: string[] = [];
    for (let round = 0; round < 3; round++) {
      // Only this round's two accounts are administrators.
      for (const id of survivors) await rbac.forget(id);
      const x = await a.account(`x${round}@example.com`, PW);
      const y = await a.account(`y${round}@example.com`, PW);
      await rbac.setRoles(x, [ADMIN_ROLE]);
      await rbac.setRoles(y, [ADMIN_ROLE]);
      const tokenX = (await a.login(`x${round}@example.com`, PW)).accessToken;
      const tokenY = (await b.login(`y${round}@example.com`, PW)).accessToken;
      const [xDisablesY, yDisablesX] = await Promise.all([
        a.call('PATCH', `/api/v1/users/${y}`, { token: tokenX, body: { status: 'disabled' } }),
        b.call('PATCH', `/api/v1/users/${x}`, { token: tokenY, body: { status: 'disabled' } }),
      ]);
      expect([xDisablesY.status, yDisablesX.status].sort(), `round ${round}`).to.deep.equal([200, 409]);
      expect([xDisablesY, yDisablesX].find((r) => r.status === 409)!.body.code).to.equal('GANTRY_RBAC_LAST_ADMIN');
      const statuses = await Promise.all(
        [x, y].map(
          async (id) =>
            (await a.tk.get(RbacToken).can(id, 'users:write')) &&
            (await a.call('GET', `/api/v1/users/${id}`, { token: tokenX })).body.status,
        ),
      );
      expect(
        statuses.filter((s) => s === 'active'),
        `round ${round}`,
      ).to.have.length(1);
      survivors = [x, y];
    }
  });
});

describe('users on postgresql: sign-up', function () {
  this.timeout(60_000);
  let stack: Stack;
  afterEach(() => stack.stop());

  it('two sign-ups with one new address at once: both 201, one account, one verification mail and one notice', async () => {
    stack = await bootStack({ database: pg.fresh() });
    for (let round = 0; round < 5; round++) {
      const email = `twice${round}@example.com`;
      // Both pass the address check before either commits; the second then meets the unique index and
      // is answered as a sign-up with a taken address.
      const replies = await Promise.all(
        [0, 1].map(() => stack.call('POST', '/api/v1/auth/signup', { body: { email, password: PW, name: 'Twice' } })),
      );
      expect(
        replies.map((r) => r.status),
        `round ${round}`,
      ).to.deep.equal([201, 201]);
      const list = (await stack.tk.get(UsersToken).findByEmail(email))!;
      expect(replies.map((r) => r.body.id)).to.include(list.id);
      await stack.mail(email, /Subject: Verify your email/);
      await stack.mail(email, /Subject: Someone tried to create an account/);
    }
    const { items } = await (stack.tk.get(UsersToken) as unknown as UsersService).list({ limit: 50 });
    expect(items.map((u) => u.email).sort()).to.deep.equal([0, 1, 2, 3, 4].map((r) => `twice${r}@example.com`));
  });
});
