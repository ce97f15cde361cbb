// The shared suite on the real PostgreSQL (127.0.0.1:5432, database "test"), each database in a schema
// of its own with a random name (two kernels open the same schema for the two-instance tests); every
// schema is dropped at the end.
import { DatabaseToken } from '@gantry/plugin-database';
import { postgresSchemas } from '@gantry/plugin-database/testing';
import { expect } from 'chai';
import { bootStack, TestClock, type Reply, type Stack } from './support/stack.js';
import { mfaSuite } from './support/suite.js';

const pg = postgresSchemas('mfa');
after(() => pg.dropAll());

const fresh = async (): Promise<Record<string, unknown>> => pg.fresh();

mfaSuite({
  driver: 'postgresql',
  fresh,
  shared: fresh,
  table: (database, name) => `"${String(database.schema)}".${name}`,
});

describe('mfa on postgresql: two instances racing on one row', function () {
  this.timeout(60_000);

  it('lets exactly one of two instances accept the same code, even when both checked it before either wrote', async () => {
    const database = await fresh();
    const clock = new TestClock();
    const one = await bootStack({ database, clock });
    const two = await bootStack({ database, clock });
    try {
      const user = await one.enrolled('race@example.com');
      const [a, b] = [await one.challenge(user.email), await two.challenge(user.email)];
      const code = await one.code(user.secret);
      const db = one.tk.get(DatabaseToken);
      const verify = (stack: Stack, mfaToken: string) =>
        stack.call('POST', '/api/v1/auth/mfa/verify', { body: { mfaToken, code } });
      let racing: Promise<Reply[]> | undefined;
      // A third connection holds the account's row: both instances read it, match the code, and queue on their UPDATE.
      await db.transaction(async (em) => {
        await em.execute(`select 1 from "${String(database.schema)}".mfa_totp where user_id = ? for update`, [user.id]);
        racing = Promise.all([verify(one, a), verify(two, b)]);
        await waitFor(async () => (await waitingUpdates(one)) === 2);
      });
      const results = await racing!;
      expect(results.map((r) => r.status).sort()).to.deep.equal([200, 401]);
      expect(results.find((r) => r.status === 401)!.body.code).to.equal('GANTRY_MFA_CODE_INVALID');
    } finally {
      await two.stop();
      await one.stop();
    }
  });

  it('completes one sign-in once, even when two instances accept two different codes for the same mfaToken', async () => {
    const database = await fresh();
    const clock = new TestClock();
    const one = await bootStack({ database, clock });
    const two = await bootStack({ database, clock });
    try {
      const user = await one.enrolled('twice@example.com');
      const mfaToken = await one.challenge(user.email);
      const [older, newer] = [await one.code(user.secret, 0), await one.code(user.secret, 1)];
      const db = one.tk.get(DatabaseToken);
      const verify = (stack: Stack, code: string) =>
        stack.call('POST', '/api/v1/auth/mfa/verify', { body: { mfaToken, code } });
      let racing: Promise<Reply[]> | undefined;
      await db.transaction(async (em) => {
        await em.execute(`select 1 from "${String(database.schema)}".mfa_totp where user_id = ? for update`, [user.id]);
        // The older step queues first: once the row is free both codes are accepted in turn, and only the mfaToken decides.
        const first = verify(one, older);
        await waitFor(async () => (await waitingUpdates(one)) === 1);
        racing = Promise.all([first, verify(two, newer)]);
        await waitFor(async () => (await waitingUpdates(one)) === 2);
      });
      const results = await racing!;
      expect(results.map((r) => r.status).sort()).to.deep.equal([200, 401]);
      expect(results.find((r) => r.status === 401)!.body.code).to.equal('GANTRY_MFA_CHALLENGE_INVALID');
    } finally {
      await two.stop();
      await one.stop();
    }
  });
});

/** Statements waiting for a row lock on mfa_totp. */
async function waitingUpdates(stack: Stack): Promise<number> {
  const [row] = await stack.tk
    .get(DatabaseToken)
    .em()
    .execute<{ n: string }[]>(
      "select count(*) as n from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'update %mfa_totp%'",
    );
  return Number(row!.n);
}

/** Polls `condition` every 20 ms for up to 5 s. */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met within 5 s');
}
