// With kafka-events enabled (in-process broker), account changes publish their domain events
// through the outbox, in the transaction that makes the change.
import { EventsToken, plugin as eventsPlugin, type IncomingMessage } from '@gantry/plugin-kafka-events';
import { expect } from 'chai';
import { bootStack, type Stack } from './support/stack.js';

const PW = 'Correct-Horse-Battery-9';

describe('users: domain events through kafka-events', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await bootStack({ extra: [eventsPlugin], config: { 'kafka-events': { relay: { intervalMs: 10 } } } });
  });
  afterEach(() => stack.stop());

  async function published(type: string, key: string): Promise<unknown[]> {
    const events = stack.tk.get(EventsToken);
    const deadline = Date.now() + 10_000;
    while ((await events.outboxStats())?.depth !== 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const records: IncomingMessage[] = await events.driver.read(events.topicOf(type), { limit: 1_000 });
    return records.filter((r) => r.key === key).map((r) => JSON.parse(r.value.toString()) as unknown);
  }

  it('signed-up, email-verified, logged-in and password-reset, once each, keyed by the account', async () => {
    const id = await stack.account('fay@example.com', PW, 'Fay');
    expect(await published('users.signed-up', id)).to.deep.equal([
      { userId: id, email: 'fay@example.com', name: 'Fay' },
    ]);
    expect(await published('users.email-verified', id)).to.deep.equal([{ userId: id }]);
    await stack.login('fay@example.com', PW);
    expect(await published('users.logged-in', id)).to.deep.equal([{ userId: id, method: 'password' }]);

    expect(
      (await stack.call('POST', '/api/v1/auth/password/forgot', { body: { email: 'fay@example.com' } })).status,
    ).to.equal(202);
    const token = await stack.mailedToken('fay@example.com', /Subject: Reset your password/);
    // A refused password publishes nothing; the accepted one does.
    expect(
      (await stack.call('POST', '/api/v1/auth/password/reset', { body: { token, password: 'password1' } })).status,
    ).to.equal(400);
    expect(await published('users.password-reset', id)).to.deep.equal([]);
    expect(
      (await stack.call('POST', '/api/v1/auth/password/reset', { body: { token, password: 'Another-Good-Pass-7' } }))
        .status,
    ).to.equal(204);
    expect(await published('users.password-reset', id)).to.deep.equal([{ userId: id }]);
  });
});
