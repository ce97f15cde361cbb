// The Mailer API other plugins use: links under baseUrl, template registration and its window,
// escaping, data checks, locales, and the state checks of send().
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { z } from 'zod';
import {
  escapeHtml,
  html,
  MailerToken,
  plugin as mailerPlugin,
  type Mailer,
  type MailTemplate,
  type SafeHtml,
} from '../src/index.js';
import { templatesPlugin } from './support/plugins.js';

interface CodedError {
  code: string;
  status: number;
  message: string;
  cause?: CodedError;
}

function thrown(fn: () => unknown): CodedError {
  try {
    fn();
  } catch (err) {
    return err as CodedError;
  }
  return expect.fail('did not throw');
}

describe('mailer API', () => {
  let outDir: string;
  const kernels: TestKernel[] = [];
  before(async () => {
    outDir = await mkdtemp(path.join(os.tmpdir(), 'gantry-mail-'));
  });
  after(() => rm(outDir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const k of kernels.splice(0)) await k.stop();
  });

  async function boot(
    options: { setup?: (m: Mailer) => void; baseUrl?: string; defaultLocale?: string } = {},
  ): Promise<Mailer> {
    const k = await createTestKernel({
      plugins: [mailerPlugin, ...(options.setup ? [templatesPlugin(options.setup)] : [])],
      config: {
        mailer: {
          transport: 'file',
          outDir,
          from: 'noreply@example.com',
          baseUrl: options.baseUrl ?? 'https://app.example.com',
          ...(options.defaultLocale ? { defaultLocale: options.defaultLocale } : {}),
        },
      },
    });
    kernels.push(k);
    return k.get(MailerToken);
  }

  describe('link()', () => {
    it('builds absolute links under baseUrl, keeping its path prefix and encoding parameters', async () => {
      const mailer = await boot({ baseUrl: 'https://Example.COM:443/app/' });
      expect(mailer.baseUrl).to.equal('https://example.com/app');
      expect(
        mailer.link('/verify-email', { token: 'a b&c=d/é', step: 2, remember: true, skipped: undefined, none: null }),
      ).to.equal('https://example.com/app/verify-email?token=a+b%26c%3Dd%2F%C3%A9&step=2&remember=true');
      expect(mailer.link('/')).to.equal('https://example.com/app/');
    });

    for (const bad of [
      'https://evil.example/x',
      '//evil.example/x',
      'verify',
      '/a?b=1',
      '/a#frag',
      '/../admin',
      '/a/./b',
      '/a b',
      '/\\evil.example',
      '',
    ]) {
      it(`refuses the path ${JSON.stringify(bad)} with GANTRY_MAILER_LINK_INVALID`, async () => {
        const mailer = await boot();
        expect(thrown(() => mailer.link(bad)).code).to.equal('GANTRY_MAILER_LINK_INVALID');
      });
    }

    it('refuses a parameter that is not a string, number or boolean', async () => {
      const mailer = await boot();
      expect(thrown(() => mailer.link('/x', { token: { toString: () => 'x' } as unknown as string })).code).to.equal(
        'GANTRY_MAILER_LINK_INVALID',
      );
    });
  });

  describe('html`...`', () => {
    it('escapes every interpolated value, composes html values, joins arrays and drops null/undefined/false', () => {
      const items = ['<a>', 'b&c'].map((i) => html`<li>${i}</li>`);
      const out = html`<p title="${'"quoted" \'x\''}">${'<script>'}</p><ul>${items}</ul>${null}${undefined}${false}${0}`;
      expect(out.toString()).to.equal(
        '<p title="&quot;quoted&quot; &#39;x&#39;">&lt;script&gt;</p><ul><li>&lt;a&gt;</li><li>b&amp;c</li></ul>0',
      );
      expect(escapeHtml('`<>&"\'')).to.equal('&#96;&lt;&gt;&amp;&quot;&#39;');
    });
  });

  describe('templates', () => {
    it('ships verify-email, password-reset and new-login, and a dependent plugin adds its own', async () => {
      const mailer = await boot({
        setup: (m) =>
          m.registerTemplate<{ name: string }>('users.welcome', {
            data: z.object({ name: z.string() }),
            subject: (d) => `Welcome ${d.name}`,
            text: (d, ctx) => `Hi ${d.name} (${ctx.locale}) ${ctx.baseUrl}`,
            html: (d) => html`<p>Hi ${d.name}</p>`,
          }),
      });
      expect(mailer.templateNames()).to.deep.equal(['verify-email', 'password-reset', 'new-login', 'users.welcome']);
      expect(mailer.render('users.welcome', { name: '<Zoe>' })).to.deep.equal({
        subject: 'Welcome <Zoe>',
        text: 'Hi <Zoe> (en) https://app.example.com',
        html: '<p>Hi &lt;Zoe&gt;</p>',
      });
    });

    it('turns CR/LF and other control characters of a subject into spaces', async () => {
      const mailer = await boot({
        setup: (m) => m.registerTemplate<{ s: string }>('raw-subject', { subject: (d) => d.s, text: () => 'body' }),
      });
      expect(mailer.render('raw-subject', { s: 'Hi x\r\nBcc: evil@x\u0000\u2028y\n' }).subject).to.equal(
        'Hi x Bcc: evil@x y',
      );
    });

    it('refuses an html() that returns a plain string (it could carry unescaped input)', async () => {
      const mailer = await boot({
        setup: (m) =>
          m.registerTemplate<{ name: string }>('unsafe', {
            subject: () => 's',
            text: () => 't',
            html: ((d: { name: string }) => `<p>${d.name}</p>`) as unknown as () => SafeHtml,
          }),
      });
      expect(thrown(() => mailer.render('unsafe', { name: '<img>' })).code).to.equal('GANTRY_MAILER_TEMPLATE_INVALID');
    });

    it('refuses a second template under a taken name, unless override is set', async () => {
      const template: MailTemplate<Record<string, unknown>> = {
        subject: () => 'Please verify (branded)',
        text: () => 'branded',
      };
      const err = (await createTestKernel({
        plugins: [mailerPlugin, templatesPlugin((m) => m.registerTemplate('verify-email', template))],
        config: {
          mailer: { transport: 'file', outDir, from: 'noreply@example.com', baseUrl: 'https://app.example.com' },
        },
      }).catch((e: unknown) => e)) as CodedError;
      expect(err.code).to.equal('GANTRY_CORE_REGISTER_FAILED');
      expect(err.cause?.code).to.equal('GANTRY_MAILER_TEMPLATE_DUPLICATE');

      const mailer = await boot({ setup: (m) => m.registerTemplate('verify-email', template, { override: true }) });
      expect(mailer.render('verify-email', { name: 'x', link: 'https://app.example.com/v' }).subject).to.equal(
        'Please verify (branded)',
      );
    });

    it('refuses invalid names and templates without subject or text', async () => {
      const problems: string[] = [];
      await boot({
        setup: (m) => {
          for (const name of ['Welcome', 'a b', 'x/y', '-x', ''])
            problems.push(thrown(() => m.registerTemplate(name, { subject: () => '', text: () => '' })).code);
          problems.push(
            thrown(() => m.registerTemplate('no-text', { subject: () => '' } as unknown as MailTemplate)).code,
          );
        },
      });
      expect(problems).to.deep.equal(Array(6).fill('GANTRY_MAILER_TEMPLATE_INVALID'));
    });

    it('closes registration once the mailer has started (GANTRY_MAILER_REGISTRATION_CLOSED)', async () => {
      const mailer = await boot();
      expect(thrown(() => mailer.registerTemplate('late', { subject: () => 's', text: () => 't' })).code).to.equal(
        'GANTRY_MAILER_REGISTRATION_CLOSED',
      );
    });

    it('wraps a template that throws in GANTRY_MAILER_RENDER_FAILED', async () => {
      const mailer = await boot({
        setup: (m) =>
          m.registerTemplate('broken', {
            subject: () => 's',
            text: () => {
              throw new TypeError('boom');
            },
          }),
      });
      const err = thrown(() => mailer.render('broken', {}));
      expect(err.code).to.equal('GANTRY_MAILER_RENDER_FAILED');
      expect(err.message).to.include('boom');
    });
  });

  describe('send()', () => {
    it('rejects an unknown template with GANTRY_MAILER_TEMPLATE_UNKNOWN', async () => {
      const mailer = await boot();
      const err = (await mailer
        .send({ to: 'a@example.com', template: 'nope', data: {} })
        .catch((e: unknown) => e)) as CodedError;
      expect(err.code).to.equal('GANTRY_MAILER_TEMPLATE_UNKNOWN');
    });

    it('rejects built-in data whose link is not under baseUrl (e.g. built from a Host header)', async () => {
      const mailer = await boot();
      for (const link of [
        'https://evil.example/verify-email?token=t',
        'https://app.example.com.evil.example/v',
        'javascript:alert(1)',
      ]) {
        const err = (await mailer
          .send({ to: 'a@example.com', template: 'verify-email', data: { name: 'A', link } })
          .catch((e: unknown) => e)) as CodedError;
        expect(err.code, link).to.equal('GANTRY_MAILER_DATA_INVALID');
        expect(err.message).to.include('link: must be a link under the baseUrl option');
      }
      const missing = (await mailer
        .send({
          to: 'a@example.com',
          template: 'password-reset',
          data: { name: 'A', link: mailer.link('/r') } as never,
        })
        .catch((e: unknown) => e)) as CodedError;
      expect(missing.code).to.equal('GANTRY_MAILER_DATA_INVALID');
      expect(missing.message).to.include('expiresInMinutes');
    });

    it('hands the locale to templates (dates of new-login), defaulting to defaultLocale; refuses a bad one with 400', async () => {
      const mailer = await boot({ defaultLocale: 'fr' });
      const data = { name: 'A', when: '2026-01-15T10:00:00Z', ip: '192.0.2.1', userAgent: 'ua' };
      expect(mailer.render('new-login', data).text).to.include('When: 15 janvier 2026');
      expect(mailer.render('new-login', data, 'en-US').text).to.include('When: January 15, 2026');
      // Formatters are kept per locale (bounded): the first locale's is not reused for another, and
      // past the bound each locale still gets its own.
      expect(mailer.render('new-login', data).text).to.include('When: 15 janvier 2026');
      for (let i = 0; i < 70; i++) {
        const region = String.fromCharCode(65 + Math.floor(i / 26), 65 + (i % 26));
        expect(mailer.render('new-login', data, `fr-${region}`).text).to.include('When: 15 janvier 2026');
      }
      expect(mailer.render('new-login', data, 'de').text).to.include('When: 15. Januar 2026');
      expect(mailer.render('new-login', data, 'en-US').text).to.include('When: January 15, 2026');
      const err = (await mailer
        .send({ to: 'a@example.com', template: 'new-login', data, locale: 'not a locale!' })
        .catch((e: unknown) => e)) as CodedError;
      expect(err).to.include({ code: 'GANTRY_MAILER_LOCALE_INVALID', status: 400 });
    });

    it('refuses to send from register() and after stop (GANTRY_MAILER_NOT_STARTED)', async () => {
      let early: Promise<unknown> | undefined;
      const k = await createTestKernel({
        plugins: [
          mailerPlugin,
          templatesPlugin(
            (m) =>
              (early = m
                .send({ to: 'a@example.com', template: 'verify-email', data: { name: 'A', link: m.baseUrl } })
                .catch((e: unknown) => e)),
          ),
        ],
        config: {
          mailer: { transport: 'file', outDir, from: 'noreply@example.com', baseUrl: 'https://app.example.com' },
        },
      });
      expect(((await early) as CodedError).code).to.equal('GANTRY_MAILER_NOT_STARTED');
      const mailer = k.get(MailerToken);
      await k.stop();
      const err = (await mailer
        .send({ to: 'a@example.com', template: 'verify-email', data: { name: 'A', link: mailer.link('/v') } })
        .catch((e: unknown) => e)) as CodedError;
      expect(err.code).to.equal('GANTRY_MAILER_NOT_STARTED');
    });
  });
});
