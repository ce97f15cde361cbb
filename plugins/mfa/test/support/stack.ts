// Boots the whole identity stack (http, database, audit, rbac, auth-jwt, mailer as .eml files, users,
// mfa) on one database, with the mfa plugin on a test clock, and speaks the HTTP contract.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as auditPlugin } from '@gantry/plugin-audit';
import { plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as mailerPlugin } from '@gantry/plugin-mailer';
import { plugin as rbacPlugin } from '@gantry/plugin-rbac';
import { plugin as usersPlugin } from '@gantry/plugin-users';
import { createTestKernel, memoryLogger, type LogLine, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { generate } from 'otplib';
import { createMfaPlugin } from '../../src/plugin.js';

/** The password of every test account. */
export const PASSWORD = 'Correct-Horse-Battery-9';

/** One encryption key for the test run (32 random bytes, base64). */
export const TEST_KEY = randomBytes(32).toString('base64');

/** The mfa plugin's clock: starts in the middle of the current 30 s step, moves only when told. */
export class TestClock {
  ms = Math.floor(Date.now() / 30_000) * 30_000 + 15_000;
  readonly now = (): number => this.ms;

  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/** Response of {@link Stack.call}. */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | number | undefined>;
  readonly body: any;
  readonly text: string;
}

/** An account with TOTP on, as {@link Stack.enrolled} leaves it. */
export interface Enrolled {
  readonly id: string;
  readonly email: string;
  /** Access token of the sign-in that enrolled. */
  readonly token: string;
  readonly secret: string;
  readonly otpauthUrl: string;
  readonly recoveryCodes: string[];
}

/** Options of {@link bootStack}. */
export interface StackOptions {
  /** Options of the database plugin (default: SQLite in memory). */
  readonly database?: Record<string, unknown>;
  /** Options of the mfa plugin (default: `{ encryptionKey: TEST_KEY }`). */
  readonly mfa?: Record<string, unknown>;
  readonly appDir?: string;
  readonly clock?: TestClock;
  /** Mail folder (default: a new temporary folder, removed at stop). */
  readonly mailDir?: string;
}

/** A started stack and the helpers the tests use. */
export interface Stack {
  readonly tk: TestKernel;
  readonly lines: LogLine[];
  readonly clock: TestClock;
  readonly responses: Reply[];
  call(method: string, url: string, options?: { body?: unknown; token?: string }): Promise<Reply>;
  /** The 6-digit code of `secret` for the clock's step plus `offset` steps. */
  code(secret: string, offset?: number): Promise<string>;
  /** A 6-digit code that is none of the codes of the previous, current and next step. */
  wrong(secret: string): Promise<string>;
  /** Signs up through POST /auth/signup and verifies the address with the mailed link; returns the account id. */
  account(email: string): Promise<string>;
  /** POST /auth/login with {@link PASSWORD}. */
  login(email: string): Promise<Reply>;
  /** The mfaToken of a sign-in of an account with TOTP on. */
  challenge(email: string): Promise<string>;
  /** A new account with TOTP enrolled and confirmed; the clock is then moved to the next step. */
  enrolled(email: string): Promise<Enrolled>;
  stop(): Promise<void>;
}

/** Boots the stack; `stop()` it after the test. */
export async function bootStack(options: StackOptions = {}): Promise<Stack> {
  const mailDir = options.mailDir ?? mkdtempSync(path.join(os.tmpdir(), 'gantry-mfa-mail-'));
  const clock = options.clock ?? new TestClock();
  const lines: LogLine[] = [];
  const responses: Reply[] = [];
  const tk = await createTestKernel({
    plugins: [
      httpPlugin,
      databasePlugin,
      auditPlugin,
      rbacPlugin,
      authJwtPlugin,
      mailerPlugin,
      usersPlugin,
      createMfaPlugin({ now: clock.now }),
    ],
    config: {
      database: options.database ?? { dbName: ':memory:' },
      'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test', store: 'memory' },
      mailer: { transport: 'file', from: 'noreply@gantry.test', baseUrl: 'https://app.gantry.test', outDir: mailDir },
      users: { newLoginNotice: false },
      mfa: options.mfa ?? { encryptionKey: TEST_KEY },
    },
    logger: memoryLogger(lines),
    ...(options.appDir ? { appDir: options.appDir } : {}),
  });

  const call: Stack['call'] = async (method, url, o = {}) => {
    const res = await tk.inject({
      method: method as 'GET',
      url,
      headers: {
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
      },
      ...(o.body !== undefined ? { payload: JSON.stringify(o.body) } : {}),
    });
    const reply: Reply = {
      status: res.statusCode,
      headers: res.headers,
      body: res.body ? JSON.parse(res.body) : undefined,
      text: res.body,
    };
    responses.push(reply);
    return reply;
  };

  const mailedToken = async (to: string): Promise<string> => {
    for (let i = 0; i < 60; i++) {
      const mail = readdirSync(mailDir)
        .filter((f) => f.endsWith('.eml'))
        .map((f) => readFileSync(path.join(mailDir, f), 'utf8'))
        .find((m) => m.toLowerCase().includes(`to: ${to.toLowerCase()}`) && /Subject: Verify your email/.test(m));
      // Quoted-printable: soft line breaks and "=3D" for "=".
      const match = mail && /token=([A-Za-z0-9_-]{43})/.exec(mail.replace(/=\r?\n/g, '').replace(/=3D/g, '='));
      if (match) return match[1]!;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no verification mail to ${to}`);
  };

  const stack: Stack = {
    tk,
    lines,
    clock,
    responses,
    call,
    code: (secret, offset = 0) => generate({ secret, epoch: Math.floor(clock.ms / 1000) + offset * 30 }),
    async wrong(secret) {
      const valid = await Promise.all([-1, 0, 1].map((offset) => stack.code(secret, offset)));
      return ['000000', '111111', '222222', '333333'].find((c) => !valid.includes(c))!;
    },
    async account(email) {
      const signup = await call('POST', '/api/v1/auth/signup', {
        body: { email, password: PASSWORD, name: 'Test User' },
      });
      expect(signup.status, signup.text).to.equal(201);
      const verified = await call('POST', '/api/v1/auth/verify-email', { body: { token: await mailedToken(email) } });
      expect(verified.status, verified.text).to.equal(204);
      return signup.body.id as string;
    },
    login: (email) => call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } }),
    async challenge(email) {
      const res = await stack.login(email);
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.have.keys('mfaRequired', 'mfaToken');
      return res.body.mfaToken as string;
    },
    async enrolled(email) {
      const id = await stack.account(email);
      const login = await stack.login(email);
      expect(login.status, login.text).to.equal(200);
      const token = login.body.accessToken as string;
      const enroll = await call('POST', '/api/v1/auth/mfa/totp/enroll', { token });
      expect(enroll.status, enroll.text).to.equal(200);
      const confirm = await call('POST', '/api/v1/auth/mfa/totp/confirm', {
        token,
        body: { code: await stack.code(enroll.body.secret) },
      });
      expect(confirm.status, confirm.text).to.equal(200);
      clock.advance(30);
      return {
        id,
        email,
        token,
        secret: enroll.body.secret,
        otpauthUrl: enroll.body.otpauthUrl,
        recoveryCodes: confirm.body.recoveryCodes,
      };
    },
    async stop() {
      await tk.stop();
      if (!options.mailDir) rmSync(mailDir, { recursive: true, force: true });
    },
  };
  return stack;
}
