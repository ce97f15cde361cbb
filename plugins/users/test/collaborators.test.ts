// Unit tests of the users plugin's use of its collaborators, replaced by ts-mockito mocks through
// createTestKernel's `replace`: a mailer that fails and an audit trail that is down are hard to
// produce with the real services in a unit test (the integration suites keep them real).
import { AuditErrors, AuditToken, type Audit, type AuditEntry } from '@gantry/plugin-audit';
import { MailerErrors, MailerToken, type Mailer, type SendOptions } from '@gantry/plugin-mailer';
import { memoryLogger, replacing, type LogLine } from '@gantry/testing';
import { expect } from 'chai';
import { anything, capture, instance, mock, verify, when } from 'ts-mockito';
import { bootStack } from './support/stack.js';

const PW = 'Correct-Horse-Battery-9';

/** Retries `check` until it passes or the deadline ends (background work finishes after the response). */
async function eventually(check: () => void, deadlineMs = 3_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      return check();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

describe('users with mocked collaborators (ts-mockito through createTestKernel replace)', function () {
  this.timeout(20_000);

  it('mails the verification link once after a sign-up, and a failing mailer does not fail the sign-up', async () => {
    const mailer = mock<Mailer>();
    when(mailer.link(anything(), anything())).thenCall(
      (p: string, params: { token: string }) => `https://app.test${p}?token=${params.token}`,
    );
    when(mailer.send(anything())).thenReject(MailerErrors.SEND_FAILED('the SMTP server refused the message'));
    const lines: LogLine[] = [];
    const stack = await bootStack({ replace: [replacing(MailerToken, instance(mailer))], logger: memoryLogger(lines) });
    try {
      const res = await stack.call('POST', '/api/v1/auth/signup', {
        body: { email: 'mocked@example.com', password: PW, name: 'Mocked' },
      });
      expect(res.status, res.text).to.equal(201);
      await eventually(() => verify(mailer.send(anything())).once());
      const [message] = capture(mailer.send as (m: SendOptions<string>) => Promise<unknown>).last();
      expect(message).to.deep.include({ to: 'mocked@example.com', template: 'verify-email' });
      expect(String((message.data as { link: string }).link)).to.match(
        /^https:\/\/app\.test\/.*\?token=[A-Za-z0-9_-]{43}$/,
      );
      await eventually(() =>
        expect(lines.some((l) => l.level === 'error' && /background task failed/.test(l.msg))).to.equal(true),
      );
    } finally {
      await stack.stop();
    }
  });

  it('refuses the action with 503 GANTRY_AUDIT_UNAVAILABLE when the audit trail cannot record it', async () => {
    const audit = mock<Audit>();
    when(audit.record(anything())).thenReject(AuditErrors.UNAVAILABLE('the audit entry could not be stored'));
    when(audit.lastWrite()).thenReturn(undefined);
    const stack = await bootStack({ replace: [[AuditToken, instance(audit)]] });
    try {
      const res = await stack.call('POST', '/api/v1/auth/signup', {
        body: { email: 'unaudited@example.com', password: PW, name: 'Unaudited' },
      });
      expect(res.status, res.text).to.equal(503);
      expect(res.body.code).to.equal('GANTRY_AUDIT_UNAVAILABLE');
      verify(audit.record(anything())).once();
      const [entry] = capture(audit.record).last();
      expect(entry).to.deep.include({ action: 'auth.signup' });
    } finally {
      await stack.stop();
    }
  });

  it('records a refused sign-in in the audit trail as a failure, without the password', async () => {
    const audit = mock<Audit>();
    when(audit.record(anything())).thenResolve({} as AuditEntry);
    const stack = await bootStack({ replace: [[AuditToken, instance(audit)]] });
    try {
      const res = await stack.call('POST', '/api/v1/auth/login', {
        body: { email: 'nobody@example.com', password: PW },
      });
      expect(res.status).to.equal(401);
      verify(audit.record(anything())).once();
      const [entry] = capture(audit.record).last();
      expect(entry).to.deep.include({ action: 'auth.login', outcome: 'failure' });
      expect(JSON.stringify(entry)).to.not.include(PW);
    } finally {
      await stack.stop();
    }
  });
});
