// A mail server that is down must not stop the app: it boots, readiness says `degraded`, sends fail
// with a coded 503, and everything works again once the server answers, without a restart.
import net from 'node:net';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { MailerToken, plugin as mailerPlugin } from '../src/index.js';
import { MailCatcher } from './support/maildev.js';
import { memoryLogger, signupPlugin, type LogLine } from './support/plugins.js';

const BASE = 'https://app.example.com';

interface Problem {
  code: string;
  status: number;
  reason?: string;
}

describe('mailer when the SMTP server is down', () => {
  const kernels: TestKernel[] = [];
  const catchers: MailCatcher[] = [];
  afterEach(async () => {
    // Kernels first: a pooled connection would keep MailDev's SMTP server waiting.
    for (const k of kernels.splice(0)) await k.stop();
    for (const c of catchers.splice(0)) await c.dispose();
  });

  async function downCatcher(): Promise<MailCatcher> {
    const catcher = new MailCatcher();
    catchers.push(catcher);
    // Started once for its ports, then stopped: nothing listens there until start() again.
    await catcher.start();
    await catcher.stop();
    return catcher;
  }

  for (const pool of [false, true]) {
    it(`boots anyway, answers 503 GANTRY_MAILER_UNAVAILABLE with readiness degraded, and recovers when the server is back (pool: ${pool})`, async () => {
      const catcher = await downCatcher();
      const lines: LogLine[] = [];
      const k = await createTestKernel({
        plugins: [httpPlugin, mailerPlugin, signupPlugin()],
        config: {
          mailer: {
            transport: 'smtp',
            smtpUrl: catcher.smtpUrl('user:s3cret'),
            pool,
            from: 'noreply@example.com',
            baseUrl: BASE,
          },
        },
        logger: memoryLogger(lines),
      });
      kernels.push(k);

      const down = await k.kernel.health.readiness();
      // Not critical: the instance stays ready, the outage is visible.
      expect(down.status).to.equal('ready');
      expect(down.checks.mailer).to.deep.include({ status: 'degraded', critical: false });
      expect(down.checks.mailer!.details).to.deep.include({
        transport: 'smtp',
        server: 'unreachable',
        error: 'ESOCKET',
      });
      const warning = lines.find((l) => l.level === 'warn' && l.msg.startsWith('mail server unreachable'));
      expect(warning?.fields).to.include({ code: 'GANTRY_MAILER_UNAVAILABLE' });
      // The password of the SMTP URL is in no log line.
      expect(JSON.stringify(lines)).not.to.include('s3cret');

      const res = await k.inject({
        method: 'POST',
        url: '/api/v1/signup',
        payload: { email: 'ann@example.com', name: 'Ann', token: 'tok-1' },
      });
      expect(res.statusCode).to.equal(503);
      expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(res.headers['retry-after']).to.equal('30');
      const problem = res.json() as Problem;
      expect(problem).to.include({ code: 'GANTRY_MAILER_UNAVAILABLE', status: 503 });
      expect(problem.reason).to.be.a('string');
      // The problem names no host or port: /api responses are public.
      expect(res.body).not.to.include('127.0.0.1');
      const afterFailure = await k.kernel.health.readiness();
      expect(afterFailure.checks.mailer!.details!.lastSend).to.include({
        outcome: 'failed',
        template: 'verify-email',
        code: 'GANTRY_MAILER_UNAVAILABLE',
      });

      await catcher.start();
      const up = await k.kernel.health.readiness();
      expect(up.checks.mailer!.status).to.equal('up');
      expect(up.checks.mailer!.details).to.deep.include({ server: 'reachable' });

      const arrived = catcher.nextMail();
      const ok = await k.inject({
        method: 'POST',
        url: '/api/v1/signup',
        payload: { email: 'ann@example.com', name: 'Ann', token: 'tok-2' },
      });
      expect(ok.statusCode).to.equal(202);
      expect((await arrived).text).to.include(`${BASE}/verify-email?token=tok-2`);
    });
  }

  it('fails sends while a running server goes away and sends again once it is back, with no readiness check in between', async () => {
    const catcher = new MailCatcher();
    catchers.push(catcher);
    await catcher.start();
    const k = await createTestKernel({
      plugins: [mailerPlugin],
      config: { mailer: { transport: 'smtp', smtpUrl: catcher.smtpUrl(), from: 'noreply@example.com', baseUrl: BASE } },
    });
    kernels.push(k);
    const mailer = k.get(MailerToken);
    const send = (token: string) =>
      mailer.send({
        to: 'ann@example.com',
        template: 'verify-email',
        data: { name: 'Ann', link: mailer.link('/verify-email', { token }) },
      });

    const first = catcher.nextMail();
    await send('one');
    expect((await first).text).to.include('token=one');

    await catcher.stop();
    const err = (await send('two').catch((e: unknown) => e)) as {
      code: string;
      status: number;
      headers: Record<string, string>;
    };
    expect(err).to.include({ code: 'GANTRY_MAILER_UNAVAILABLE', status: 503 });
    expect(err.headers).to.deep.equal({ 'Retry-After': '30' });
    expect((await k.kernel.health.readiness()).checks.mailer!.status).to.equal('degraded');

    await catcher.start();
    const third = catcher.nextMail();
    await send('three');
    expect((await third).text).to.include('token=three');
    expect((await k.kernel.health.readiness()).checks.mailer!.status).to.equal('up');
  });

  it('gives up on a server that accepts connections but never answers, with UNAVAILABLE, instead of hanging', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    try {
      const k = await createTestKernel({
        plugins: [mailerPlugin],
        config: {
          mailer: {
            transport: 'smtp',
            smtpUrl: `smtp://127.0.0.1:${port}`,
            sendTimeoutMs: 300,
            from: 'noreply@example.com',
            baseUrl: BASE,
          },
        },
      });
      kernels.push(k);
      const report = await k.kernel.health.readiness();
      expect(report.checks.mailer!.status).to.equal('degraded');
      const mailer = k.get(MailerToken);
      const err = (await mailer
        .send({ to: 'ann@example.com', template: 'verify-email', data: { name: 'Ann', link: mailer.link('/v') } })
        .catch((e: unknown) => e)) as { code: string };
      expect(err.code).to.equal('GANTRY_MAILER_UNAVAILABLE');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
