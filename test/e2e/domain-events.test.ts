// The sandbox with kafka-events (in-process broker, embedded profile): account and role changes
// publish their domain events through the outbox, in the transaction that makes the change.
import { EventsToken, HEADERS, type IncomingMessage } from '@gantry/plugin-kafka-events';
import { expect } from 'chai';
import { bootSandboxKernel, type SandboxKernel } from '../support/sandbox-kernel.js';

describe('sandbox domain events: users and rbac publish through the outbox', function () {
  this.timeout(30_000);
  let sandbox: SandboxKernel;
  let admin: { id: string; token: string };

  before(async () => {
    sandbox = await bootSandboxKernel();
    admin = await sandbox.tokenFor('root@example.com', ['admin']);
  });
  after(() => sandbox?.stop());

  async function records(type: string): Promise<IncomingMessage[]> {
    const events = sandbox.kernel.container.get(EventsToken);
    const deadline = Date.now() + 10_000;
    while ((await events.outboxStats())?.depth !== 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    return events.driver.read(events.topicOf(type), { limit: 1_000 });
  }

  const data = (r: IncomingMessage): Record<string, unknown> =>
    JSON.parse(r.value.toString()) as Record<string, unknown>;

  it('signed-up (keyed by the account), role-changed and disabled, each once, with the CloudEvents envelope', async () => {
    const signup = await sandbox.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: 'dana@example.com', password: 'Correct-Horse-Battery-9', name: 'Dana' },
    });
    expect(signup.statusCode, signup.body).to.equal(201);
    const id = (signup.json() as { id: string }).id;
    // The same address again: answered alike, but no second event (the account exists).
    const again = await sandbox.inject({
      method: 'POST',
      url: '/api/v1/auth/signup',
      payload: { email: 'dana@example.com', password: 'Correct-Horse-Battery-9', name: 'Dana' },
    });
    expect(again.statusCode).to.equal(201);
    const signedUp = (await records('users.signed-up')).filter((r) => r.key === id);
    expect(signedUp.map(data)).to.deep.equal([{ userId: id, email: 'dana@example.com', name: 'Dana' }]);
    expect(signedUp[0]!.headers).to.include({
      ce_type: 'users.signed-up',
      ce_specversion: '1.0',
      ce_schemaversion: '1',
    });
    expect(signedUp[0]!.headers[HEADERS.requestId]).to.be.a('string');

    const auth = { authorization: `Bearer ${admin.token}` };
    const roles = await sandbox.inject({
      method: 'PUT',
      url: `/api/v1/users/${id}/roles`,
      headers: auth,
      payload: { roles: ['user', 'admin'] },
    });
    expect(roles.statusCode, roles.body).to.equal(200);
    const changed = (await records('rbac.role-changed')).filter((r) => r.key === id);
    expect(changed.map(data)).to.deep.equal([{ subjectId: id, roles: ['admin', 'user'], previous: ['user'] }]);

    const disable = await sandbox.inject({
      method: 'PATCH',
      url: `/api/v1/users/${id}`,
      headers: auth,
      payload: { status: 'disabled' },
    });
    expect(disable.statusCode, disable.body).to.equal(200);
    expect((await records('users.disabled')).filter((r) => r.key === id).map(data)).to.deep.equal([{ userId: id }]);
  });

  it('logged-in on a successful sign-in only', async () => {
    const { id } = await sandbox.tokenFor('erin@example.com', ['user']);
    const bad = await sandbox.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'erin@example.com', password: 'Wrong-Horse-Battery-9' },
    });
    expect(bad.statusCode).to.equal(401);
    const ok = await sandbox.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'erin@example.com', password: 'Correct-Horse-Battery-9' },
    });
    expect(ok.statusCode, ok.body).to.equal(200);
    const logins = (await records('users.logged-in')).filter((r) => r.key === id);
    expect(logins.map(data)).to.deep.equal([{ userId: id, method: 'password' }]);
  });
});
