import { definePlugin, type RouteReply } from '@gantry/core';
import { z } from 'zod';
import { ACCOUNT_CSS, ACCOUNT_JS, page } from './html.js';

/**
 * The pages the sandbox's mails link to (`/verify-email?token=`, `/reset-password?token=`,
 * `/forgot-password`): small server-rendered forms, so the quick start works for a person, not only
 * for curl. The forms post JSON to the users API from a script of the same origin; the token is read
 * from the address and removed from it. CSP allows exactly that: this origin's script, style and
 * fetch, and nothing else (no inline code, no framing, no form posts elsewhere).
 */
export const plugin = definePlugin({
  name: 'pages',
  version: '0.1.0',
  kernel: '^0.1.0',
  description: 'Sandbox: the account pages mailed links open (verify email, reset and forgot password)',
  dependsOn: ['http', 'users'],
  config: z
    .object({
      apiBase: z
        .string()
        .regex(/^(\/[A-Za-z0-9._~-]+)*$/, 'must look like /api/v1')
        .default('/api/v1')
        .describe("Base path of the API the forms post to (the http plugin's basePath)"),
    })
    .strict(),
  register(ctx) {
    const api = ctx.config.apiBase;
    const pages = {
      '/verify-email': page({
        title: 'Confirm your email address',
        intro: 'Confirm that this address is yours to finish creating your account.',
        action: `${api}/auth/verify-email`,
        kind: 'verify',
        fields: [],
        submit: 'Confirm my address',
        done: 'Your address is confirmed. You can sign in now.',
      }),
      '/reset-password': page({
        title: 'Choose a new password',
        intro: 'Every session of the account is signed out once the password is changed.',
        action: `${api}/auth/password/reset`,
        kind: 'reset',
        fields: [
          { name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password' },
          { name: 'confirm', label: 'New password again', type: 'password', autocomplete: 'new-password' },
        ],
        submit: 'Set the new password',
        done: 'Your password is changed. Sign in with the new one.',
      }),
      '/forgot-password': page({
        title: 'Forgot your password?',
        intro: 'Give the address of your account: a link to choose a new password is mailed to it if it has one.',
        action: `${api}/auth/password/forgot`,
        kind: 'forgot',
        fields: [{ name: 'email', label: 'Email address', type: 'email', autocomplete: 'email' }],
        submit: 'Mail me a link',
        done: 'If an account uses this address, a link is on its way. It works for a limited time.',
      }),
    } as const;

    for (const [path, html] of Object.entries(pages)) {
      ctx.http.get(
        path,
        { root: true, summary: `Account page ${path}`, tags: ['pages'], meta: { public: true } },
        (_req, reply) => send(reply, 'text/html; charset=utf-8', html),
      );
    }
    ctx.http.get(
      '/assets/account.js',
      { root: true, summary: 'Script of the account pages', tags: ['pages'], meta: { public: true } },
      (_req, reply) => send(reply, 'text/javascript; charset=utf-8', ACCOUNT_JS),
    );
    ctx.http.get(
      '/assets/account.css',
      { root: true, summary: 'Style of the account pages', tags: ['pages'], meta: { public: true } },
      (_req, reply) => send(reply, 'text/css; charset=utf-8', ACCOUNT_CSS),
    );
  },
});

/** What a page may load: its own script, style and API calls; nothing inline, no frames, forms post nowhere. */
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

function send(reply: RouteReply, type: string, body: string): string {
  reply.type(type).header('content-security-policy', PAGE_CSP);
  return body;
}
