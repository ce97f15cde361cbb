// Boots the whole identity stack on one database (SQLite in memory or a PostgreSQL schema) with mail
// written as .eml files, and gives the tests an HTTP client that speaks the contract.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as auditPlugin } from '@gantry/plugin-audit';
import { plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as mailerPlugin } from '@gantry/plugin-mailer';
import { plugin as rbacPlugin } from '@gantry/plugin-rbac';
import type { Logger, Plugin } from '@gantry/core';
import { createTestKernel, type Replacement, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { simpleParser } from 'mailparser';
import { plugin as usersPlugin } from '../../src/index.js';

/** Response of {@link Client.call}. */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: any;
  readonly text: string;
}

/** A booted stack and what tests need around it. */
export interface Stack {
  readonly tk: TestKernel;
  readonly mailDir: string;
  call(
    method: string,
    url: string,
    options?: { body?: unknown; token?: string; headers?: Record<string, string> },
  ): Promise<Reply>;
  /** The newest mail to `to` whose subject matches, as raw text (waits up to 3 s for background mail). */
  mail(to: string, subject: RegExp): Promise<string>;
  /** The newest such mail decoded (mailparser): its plain text and HTML parts, as the recipient reads them. */
  readMail(to: string, subject: RegExp): Promise<{ text: string; html: string }>;
  /** The token in the newest mailed link of that kind. */
  mailedToken(to: string, subject: RegExp): Promise<string>;
  /** Signs up and verifies an account through the HTTP contract; returns its id. */
  account(email: string, password: string, name?: string): Promise<string>;
  /** Signs in; returns the token pair. */
  login(email: string, password: string): Promise<{ accessToken: string; refreshToken: string }>;
  stop(): Promise<void>;
}

/** Boots http, database, audit, rbac, auth-jwt (memory store), mailer (files) and users, plus `extra`. */
export async function bootStack(
  options: {
    database?: Record<string, unknown>;
    users?: Record<string, unknown>;
    extra?: readonly Plugin[];
    config?: Record<string, unknown>;
    logger?: Logger;
    /** Collaborators replaced by test doubles (unit tests only; see createTestKernel's `replace`). */
    replace?: readonly Replacement[];
  } = {},
): Promise<Stack> {
  const mailDir = mkdtempSync(path.join(os.tmpdir(), 'gantry-users-mail-'));
  const tk = await createTestKernel({
    plugins: [
      httpPlugin,
      databasePlugin,
      auditPlugin,
      rbacPlugin,
      authJwtPlugin,
      mailerPlugin,
      ...(options.extra ?? []),
      usersPlugin,
    ],
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.replace ? { replace: options.replace } : {}),
    config: {
      database: options.database ?? { dbName: ':memory:' },
      'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test', store: 'memory' },
      mailer: { transport: 'file', from: 'noreply@gantry.test', baseUrl: 'https://app.gantry.test', outDir: mailDir },
      users: { newLoginNotice: false, ...(options.users ?? {}) },
      ...(options.config ?? {}),
    },
  });
  const call: Stack['call'] = async (method, url, o = {}) => {
    const res = await tk.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...(o.headers ?? {}),
      },
      ...(o.body !== undefined ? { payload: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
    });
    let body: unknown;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers as Reply['headers'], body, text: res.body };
  };
  const mail: Stack['mail'] = async (to, subject) => {
    for (let i = 0; i < 60; i++) {
      const files = readdirSync(mailDir)
        .filter((f) => f.endsWith('.eml'))
        .sort();
      const found = files
        .map((f) => readFileSync(path.join(mailDir, f), 'utf8'))
        .filter((m) => m.toLowerCase().includes(`to: ${to.toLowerCase()}`) && subject.test(m))
        .at(-1);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no mail to ${to} matching ${subject}`);
  };
  const mailedToken: Stack['mailedToken'] = async (to, subject) => {
    const raw = (await mail(to, subject)).replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const match = /token=([A-Za-z0-9_-]{43})/.exec(raw);
    if (!match) throw new Error(`no token link in the mail to ${to}`);
    return match[1]!;
  };
  const readMail: Stack['readMail'] = async (to, subject) => {
    const parsed = await simpleParser(await mail(to, subject));
    return { text: parsed.text ?? '', html: typeof parsed.html === 'string' ? parsed.html : '' };
  };
  const stack: Stack = {
    tk,
    mailDir,
    call,
    mail,
    readMail,
    mailedToken,
    async account(email, password, name = 'Test User') {
      const signup = await call('POST', '/api/v1/auth/signup', { body: { email, password, name } });
      expect(signup.status, signup.text).to.equal(201);
      const token = await mailedToken(email, /Subject: Verify your email/);
      const verified = await call('POST', '/api/v1/auth/verify-email', { body: { token } });
      expect(verified.status, verified.text).to.equal(204);
      return signup.body.id as string;
    },
    async login(email, password) {
      const res = await call('POST', '/api/v1/auth/login', { body: { email, password } });
      expect(res.status, res.text).to.equal(200);
      return res.body;
    },
    async stop() {
      await tk.stop();
      rmSync(mailDir, { recursive: true, force: true });
    },
  };
  return stack;
}
