// The SMTP transport against a real MailDev: every built-in template goes over SMTP and is read
// back through MailDev's HTTP API (subject, recipients, links, escaping, no header injection).
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { html, MailerToken, plugin as mailerPlugin, type Mailer } from '../src/index.js';
import { MailCatcher } from './support/maildev.js';
import { signupPlugin, templatesPlugin } from './support/plugins.js';

const BASE = 'https://app.example.com/accounts';
const HOSTILE_NAME = '<img src=x onerror=alert(1)> "Eve" & \'co\'';

describe('mailer over SMTP (real MailDev)', () => {
  const catcher = new MailCatcher();
  const kernels: TestKernel[] = [];
  before(() => catcher.start());
  after(() => catcher.dispose());
  afterEach(async () => {
    for (const k of kernels.splice(0)) await k.stop();
  });

  async function boot(options: { extra?: Record<string, unknown>; setup?: (m: Mailer) => void } = {}): Promise<Mailer> {
    const k = await createTestKernel({
      plugins: [mailerPlugin, ...(options.setup ? [templatesPlugin(options.setup)] : [])],
      config: {
        mailer: {
          transport: 'smtp',
          smtpUrl: catcher.smtpUrl(),
          from: 'Gantry Accounts <noreply@example.com>',
          baseUrl: `${BASE}/`,
          ...options.extra,
        },
      },
    });
    kernels.push(k);
    return k.get(MailerToken);
  }

  it('sends verify-email: subject, sender, recipient, and the link from baseUrl in text and HTML', async () => {
    const mailer = await boot();
    const link = mailer.link('/verify-email', { token: 'tok_A1b2', next: '/home page' });
    expect(link).to.equal(`${BASE}/verify-email?token=tok_A1b2&next=%2Fhome+page`);

    const arrived = catcher.nextMail();
    const result = await mailer.send({
      to: { name: 'Ann Lee', address: 'ann@example.com' },
      template: 'verify-email',
      data: { name: 'Ann', link },
    });
    const mail = await arrived;

    expect(result.to).to.deep.equal(['ann@example.com']);
    expect(mail.subject).to.equal('Verify your email address');
    expect(mail.from).to.deep.equal([{ address: 'noreply@example.com', name: 'Gantry Accounts' }]);
    expect(mail.to).to.deep.equal([{ address: 'ann@example.com', name: 'Ann Lee' }]);
    expect(mail.envelope.to.map((a) => a.address)).to.deep.equal(['ann@example.com']);
    expect(mail.headers['message-id']).to.equal(result.messageId);
    expect(mail.headers['auto-submitted']).to.equal('auto-generated');
    expect(mail.text).to.include('Hello Ann,');
    expect(mail.text).to.include(link);
    // In HTML the "&" of the query string is an entity, inside href and in the visible copy.
    const htmlLink = link.replace(/&/g, '&amp;');
    expect(mail.html).to.include(`href="${htmlLink}"`);
  });

  it('sends password-reset with its expiry and link', async () => {
    const mailer = await boot();
    const link = mailer.link('/reset-password', { token: 'reset-123' });
    const arrived = catcher.nextMail();
    await mailer.send({
      to: 'bob@example.org',
      template: 'password-reset',
      data: { name: 'Bob', link, expiresInMinutes: 30 },
    });
    const mail = await arrived;
    expect(mail.subject).to.equal('Reset your password');
    expect(mail.to.map((a) => a.address)).to.deep.equal(['bob@example.org']);
    expect(mail.text).to.include('within 30 minutes');
    expect(mail.text).to.include(`${BASE}/reset-password?token=reset-123`);
    expect(mail.html).to.include(`href="${BASE}/reset-password?token=reset-123"`);
  });

  it('sends new-login with time (UTC), IP and user agent, escaping a hostile user agent in HTML', async () => {
    const mailer = await boot();
    const arrived = catcher.nextMail();
    await mailer.send({
      to: 'carol@example.net',
      template: 'new-login',
      data: {
        name: 'Carol',
        when: '2026-03-04T05:06:07Z',
        ip: '203.0.113.9',
        userAgent: 'Mozilla/5.0 <script>steal()</script>',
      },
    });
    const mail = await arrived;
    expect(mail.subject).to.equal('New sign-in to your account');
    expect(mail.text).to.include('When: March 4, 2026 at 5:06:07 AM UTC');
    expect(mail.text).to.include('IP address: 203.0.113.9');
    expect(mail.text).to.include('Device: Mozilla/5.0 <script>steal()</script>');
    expect(mail.html).to.include('Mozilla/5.0 &lt;script&gt;steal()&lt;/script&gt;');
  });

  it('escapes a hostile name in the HTML part and keeps it verbatim in the text part', async () => {
    const mailer = await boot();
    const arrived = catcher.nextMail();
    await mailer.send({
      to: 'eve@example.com',
      template: 'verify-email',
      data: { name: HOSTILE_NAME, link: mailer.link('/verify-email', { token: 't' }) },
    });
    const mail = await arrived;
    expect(mail.text).to.include(`Hello ${HOSTILE_NAME},`);
    expect(mail.html).to.include('Hello &lt;img src=x onerror=alert(1)&gt; &quot;Eve&quot; &amp; &#39;co&#39;,');
    // The raw HTML part, before MailDev's own sanitizer: no tag from the name survived.
    const raw = await catcher.source(mail.id);
    const htmlPart = decodeQuotedPrintable(raw.slice(raw.indexOf('Content-Type: text/html')));
    expect(htmlPart).to.include('Hello &lt;img src=x onerror=alert(1)&gt; &quot;Eve&quot; &amp; &#39;co&#39;,');
    expect(htmlPart).not.to.include('<img');
  });

  it('cannot be made to add headers or recipients through CR/LF in a name or a subject', async () => {
    const mailer = await boot({
      setup: (m) =>
        m.registerTemplate<{ name: string }>('echo', {
          subject: (d) => `Hello ${d.name}`,
          text: (d) => `Hi ${d.name}`,
          html: (d) => html`<p>Hi ${d.name}</p>`,
        }),
    });
    const injected = 'x\r\nBcc: evil@attacker.example\r\nX-Injected: 1';
    const arrived = catcher.nextMail();
    await mailer.send({
      to: { name: injected, address: 'ann@example.com' },
      template: 'echo',
      data: { name: injected },
    });
    const mail = await arrived;

    expect(mail.subject).to.equal('Hello x Bcc: evil@attacker.example X-Injected: 1');
    expect(mail.envelope.to.map((a) => a.address)).to.deep.equal(['ann@example.com']);
    expect(mail.to.map((a) => a.address)).to.deep.equal(['ann@example.com']);
    expect(mail.calculatedBcc ?? []).to.deep.equal([]);
    expect(mail.headers).not.to.have.property('bcc');
    expect(mail.headers).not.to.have.property('x-injected');
    const headerBlock = (await catcher.source(mail.id)).split(/\r?\n\r?\n/)[0]!;
    expect(headerBlock).not.to.match(/^(bcc|x-injected):/im);
  });

  it('refuses recipients that are not one plain address with 400 INVALID_RECIPIENT, sending nothing', async () => {
    const mailer = await boot();
    const before = (await catcher.all()).length;
    const bad: unknown[] = [
      'ann@example.com\r\nBcc: evil@attacker.example',
      'ann@example.com, evil@attacker.example',
      'Ann <ann@example.com>',
      'not-an-address',
      '',
      [],
      { name: 'no address' },
    ];
    for (const to of bad) {
      const err = await mailer
        .send({ to: to as string, template: 'verify-email', data: { name: 'A', link: mailer.link('/v') } })
        .then(
          () => undefined,
          (e: unknown) => e as { code: string; status: number },
        );
      expect(err, JSON.stringify(to)).to.include({ code: 'GANTRY_MAILER_INVALID_RECIPIENT', status: 400 });
    }
    // The next valid mail is the only one that arrives.
    const arrived = catcher.nextMail();
    await mailer.send({
      to: 'ann@example.com',
      template: 'verify-email',
      data: { name: 'A', link: mailer.link('/v') },
    });
    expect((await arrived).to.map((a) => a.address)).to.deep.equal(['ann@example.com']);
    expect((await catcher.all()).length).to.equal(before + 1);
  });

  it('sends every mail of a burst over the pooled transport (pool: true)', async () => {
    const mailer = await boot({ extra: { pool: true } });
    const before = (await catcher.all()).length;
    const to = ['p1@example.com', 'p2@example.com', 'p3@example.com', 'p4@example.com'];
    await Promise.all(
      to.map((address) =>
        mailer.send({ to: address, template: 'verify-email', data: { name: address, link: mailer.link('/v') } }),
      ),
    );
    const received = (await catcher.all()).slice(before).flatMap((m) => m.to.map((a) => a.address));
    expect(received.sort()).to.deep.equal(to);
  });

  it('through HTTP: a route that sends mail answers 202 and the mail carries its link', async () => {
    const k = await createTestKernel({
      plugins: [httpPlugin, mailerPlugin, signupPlugin()],
      config: { mailer: { transport: 'smtp', smtpUrl: catcher.smtpUrl(), from: 'noreply@example.com', baseUrl: BASE } },
    });
    kernels.push(k);
    const arrived = catcher.nextMail();
    // A forged Host header changes nothing: links come from baseUrl only.
    const res = await k.inject({
      method: 'POST',
      url: '/api/v1/signup',
      headers: { host: 'evil.example' },
      payload: { email: 'dan@example.com', name: 'Dan', token: 'abc' },
    });
    expect(res.statusCode).to.equal(202);
    const mail = await arrived;
    expect(mail.text).to.include(`${BASE}/verify-email?token=abc`);
    expect(mail.text).not.to.include('evil.example');
  });
});

describe('mailer over SMTP: server replies', () => {
  const kernels: TestKernel[] = [];
  afterEach(async () => {
    for (const k of kernels.splice(0)) await k.stop();
  });

  it('logs in with the URL credentials (URL-encoded), and reports a wrong password as 503 UNAVAILABLE (EAUTH) with readiness degraded', async () => {
    const catcher = new MailCatcher({ incomingUser: 'mailer', incomingPass: 'p@ss:w/rd' });
    await catcher.start();
    try {
      const boot = async (credentials: string): Promise<TestKernel> => {
        const k = await createTestKernel({
          plugins: [mailerPlugin],
          config: {
            mailer: {
              transport: 'smtp',
              smtpUrl: catcher.smtpUrl(credentials),
              from: 'noreply@example.com',
              baseUrl: BASE,
            },
          },
        });
        kernels.push(k);
        return k;
      };
      const good = await boot('mailer:p%40ss%3Aw%2Frd');
      const mailer = good.get(MailerToken);
      const arrived = catcher.nextMail();
      await mailer.send({
        to: 'ann@example.com',
        template: 'verify-email',
        data: { name: 'Ann', link: mailer.link('/v') },
      });
      expect((await arrived).subject).to.equal('Verify your email address');

      const bad = await boot('mailer:wrong');
      const report = await bad.kernel.health.readiness();
      expect(report.checks.mailer).to.deep.include({ status: 'degraded', critical: false });
      expect(report.checks.mailer!.details).to.deep.include({
        transport: 'smtp',
        server: 'unreachable',
        error: 'EAUTH',
      });
      const badMailer = bad.get(MailerToken);
      const err = (await badMailer
        .send({ to: 'ann@example.com', template: 'verify-email', data: { name: 'Ann', link: badMailer.link('/v') } })
        .catch((e: unknown) => e)) as {
        code: string;
        status: number;
        details: Record<string, unknown>;
      };
      expect(err).to.include({ code: 'GANTRY_MAILER_UNAVAILABLE', status: 503 });
      expect(err.details).to.deep.equal({ reason: 'EAUTH' });
    } finally {
      await catcher.dispose();
    }
  });

  it('reports a message the server refuses for good (552 too large) as 502 SEND_FAILED, readiness staying up', async () => {
    const catcher = new MailCatcher({ maxMessageSize: 300 });
    await catcher.start();
    try {
      const k = await createTestKernel({
        plugins: [mailerPlugin],
        config: {
          mailer: { transport: 'smtp', smtpUrl: catcher.smtpUrl(), from: 'noreply@example.com', baseUrl: BASE },
        },
      });
      kernels.push(k);
      const mailer = k.get(MailerToken);
      const err = (await mailer
        .send({ to: 'ann@example.com', template: 'verify-email', data: { name: 'Ann', link: mailer.link('/v') } })
        .catch((e: unknown) => e)) as {
        code: string;
        status: number;
        details: Record<string, unknown>;
      };
      expect(err).to.include({ code: 'GANTRY_MAILER_SEND_FAILED', status: 502 });
      expect(err.details).to.include({ responseCode: 552 });
      const report = await k.kernel.health.readiness();
      expect(report.checks.mailer!.status).to.equal('up');
      expect(report.checks.mailer!.details).to.deep.include({ server: 'reachable' });
      expect(report.checks.mailer!.details!.lastSend).to.include({
        outcome: 'failed',
        template: 'verify-email',
        code: 'GANTRY_MAILER_SEND_FAILED',
      });
      expect(await catcher.all()).to.have.length(0);
    } finally {
      await catcher.dispose();
    }
  });
});

/** Decodes quoted-printable soft line breaks and =XX escapes (enough to read an HTML part). */
function decodeQuotedPrintable(text: string): string {
  return text
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
