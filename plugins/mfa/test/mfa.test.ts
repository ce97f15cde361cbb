import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GantryError } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as auditPlugin } from '@gantry/plugin-audit';
import { plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as mailerPlugin } from '@gantry/plugin-mailer';
import { plugin as rbacPlugin } from '@gantry/plugin-rbac';
import { plugin as usersPlugin } from '@gantry/plugin-users';
import { checkConformance, createTestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { generate } from 'otplib';
import { plugin } from '../src/index.js';
import { parseKey, SecretBox } from '../src/secret-box.js';
import {
  matchTotpStep,
  newRecoveryCodes,
  newTotpSecret,
  normalizeRecoveryCode,
  normalizeTotpCode,
} from '../src/totp.js';
import { bootStack, TEST_KEY, TestClock } from './support/stack.js';
import { mfaSuite } from './support/suite.js';

const tmpDirs: string[] = [];
function tmpDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of tmpDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

mfaSuite({
  driver: 'sqlite',
  fresh: async () => ({ dbName: ':memory:' }),
  // Two kernels cannot share one in-memory database: a file it is.
  shared: async () => ({ dbName: path.join(tmpDir('gantry-mfa-db-'), 'shared.sqlite') }),
  table: (_database, name) => name,
});

/** The error a promise rejected with (fails when it resolved). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** The codes of an error and of its causes. */
function causeCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e = err; e !== undefined; e = (e as Error).cause) if (GantryError.is(e)) codes.push(e.code);
  return codes;
}

describe('mfa: the embedded key file', function () {
  this.timeout(60_000);

  it('generates <appDir>/var/mfa.key (mode 0600) when no key is configured, warns, and keeps using it after a restart', async () => {
    const appDir = tmpDir('gantry-mfa-app-');
    const database = { dbName: path.join(appDir, 'data.sqlite') };
    const mailDir = tmpDir('gantry-mfa-mail-');
    const clock = new TestClock();
    const first = await bootStack({ appDir, database, mailDir, clock, mfa: {} });
    const file = path.join(appDir, 'var', 'mfa.key');
    let user: Awaited<ReturnType<typeof first.enrolled>>;
    try {
      expect(statSync(file).mode & 0o777).to.equal(0o600);
      expect(parseKey(readFileSync(file, 'utf8'), file)).to.have.length(32);
      const warning = first.lines.find((l) => l.level === 'warn' && /mfa generated its encryption key/.test(l.msg));
      expect(warning?.fields).to.deep.equal({ file });
      user = await first.enrolled('rae@example.com');
    } finally {
      await first.stop();
    }
    const key = readFileSync(file, 'utf8');
    const second = await bootStack({ appDir, database, mailDir, clock, mfa: {} });
    try {
      expect(readFileSync(file, 'utf8')).to.equal(key);
      expect(
        second.lines.some((l) => l.level === 'warn' && /mfa uses the encryption key of this file/.test(l.msg)),
      ).to.equal(true);
      const res = await second.call('POST', '/api/v1/auth/mfa/verify', {
        body: { mfaToken: await second.challenge(user.email), code: await second.code(user.secret) },
      });
      expect(res.status, res.text).to.equal(200);
    } finally {
      await second.stop();
    }
  });

  it('refuses to boot outside the embedded profile without an encryptionKey, and with a malformed one', async () => {
    const mailDir = tmpDir('gantry-mfa-mail-');
    const stack = [
      httpPlugin,
      databasePlugin,
      auditPlugin,
      rbacPlugin,
      authJwtPlugin,
      mailerPlugin,
      usersPlugin,
      plugin,
    ];
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keys = [{ kid: 'k1', privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }];
    const config = (mfa: Record<string, unknown>) => ({
      database: { dbName: ':memory:' },
      'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test', store: 'memory', keys },
      mailer: { transport: 'file', from: 'noreply@gantry.test', baseUrl: 'https://app.gantry.test', outDir: mailDir },
      mfa,
    });
    const missing = await rejection(createTestKernel({ plugins: stack, config: config({}), profile: 'compose' }));
    expect(((missing as GantryError).details as { codes: string[] }).codes).to.include('GANTRY_MFA_KEY_REQUIRED');
    expect(String((missing as Error).message)).to.include('no encryptionKey in profile "compose"');
    const malformed = await rejection(
      createTestKernel({ plugins: stack, config: config({ encryptionKey: Buffer.alloc(16).toString('hex') }) }),
    );
    expect(String((malformed as Error).message)).to.match(/encryptionKey/);
    expect(causeCodes(malformed)).to.include('GANTRY_CORE_BOOT_INVALID');
  });
});

describe('mfa: secret box', () => {
  const box = new SecretBox(randomBytes(32));

  it('seals with a fresh IV each time and opens only for the same account, key and text', () => {
    const a = box.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'user-1');
    const b = box.seal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', 'user-1');
    expect(a).to.not.equal(b);
    expect(a).to.not.include('JBSWY3DP');
    expect(box.open(a, 'user-1')).to.equal('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP');
    const [v, iv, body, tag] = a.split('.') as [string, string, string, string];
    const flipped = `${v}.${iv}.${body.slice(0, -2)}${body.at(-2) === 'A' ? 'B' : 'A'}${body.at(-1)}.${tag}`;
    for (const [sealed, account] of [
      [a, 'user-2'],
      [flipped, 'user-1'],
      ['v1.garbage', 'user-1'],
    ] as const) {
      const err = (() => {
        try {
          box.open(sealed, account);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(GantryError.is(err) && err.code, `${sealed} / ${account}`).to.equal('GANTRY_MFA_SECRET_UNREADABLE');
    }
    expect(() => new SecretBox(randomBytes(32)).open(a, 'user-1')).to.throw(/cannot be decrypted/);
  });

  it('hashes recovery codes with a key and per account', () => {
    const other = new SecretBox(randomBytes(32));
    expect(box.recoveryHash('u1', 'abcdabcdabcdabcd')).to.match(/^[0-9a-f]{64}$/);
    expect(box.recoveryHash('u1', 'abcdabcdabcdabcd')).to.equal(box.recoveryHash('u1', 'abcdabcdabcdabcd'));
    expect(box.recoveryHash('u1', 'abcdabcdabcdabcd')).to.not.equal(box.recoveryHash('u2', 'abcdabcdabcdabcd'));
    expect(box.recoveryHash('u1', 'abcdabcdabcdabcd')).to.not.equal(other.recoveryHash('u1', 'abcdabcdabcdabcd'));
  });

  it('parses 32-byte keys as hex, base64 or base64url, and nothing else', () => {
    const raw = randomBytes(32);
    for (const text of [
      raw.toString('hex'),
      raw.toString('base64'),
      raw.toString('base64url'),
      `${raw.toString('base64')}\n`,
    ])
      expect(parseKey(text, 'test').equals(raw)).to.equal(true);
    for (const text of [
      '',
      'short',
      randomBytes(16).toString('hex'),
      randomBytes(31).toString('base64'),
      randomBytes(48).toString('base64'),
    ]) {
      expect(() => parseKey(text, 'test'), text).to.throw(/not 32 bytes/);
    }
  });
});

describe('mfa: codes', () => {
  const secret = newTotpSecret();
  const now = Math.floor(Date.now() / 30_000) * 30_000 + 15_000;
  const code = (offset: number) => generate({ secret, epoch: Math.floor(now / 1000) + offset * 30 });
  const step = Math.floor(now / 30_000);

  it('matches the previous, current and next step only, and only steps after the last accepted one', async () => {
    for (const offset of [-1, 0, 1])
      expect(await matchTotpStep(secret, await code(offset), { nowMs: now, afterStep: null })).to.equal(step + offset);
    for (const offset of [-3, -2, 2, 3])
      expect(await matchTotpStep(secret, await code(offset), { nowMs: now, afterStep: null })).to.equal(undefined);
    expect(await matchTotpStep(secret, await code(0), { nowMs: now, afterStep: step })).to.equal(undefined);
    expect(await matchTotpStep(secret, await code(1), { nowMs: now, afterStep: step })).to.equal(step + 1);
    // A last step beyond the window (clock moved back) accepts nothing rather than failing.
    expect(await matchTotpStep(secret, await code(1), { nowMs: now, afterStep: step + 5 })).to.equal(undefined);
  });

  it('generates 160-bit secrets and ten distinct 80-bit recovery codes', () => {
    expect(secret).to.match(/^[A-Z2-7]{32}$/);
    const codes = newRecoveryCodes();
    expect(codes).to.have.length(10);
    expect(new Set(codes).size).to.equal(10);
    for (const c of codes) expect(normalizeRecoveryCode(c)).to.match(/^[a-z2-7]{16}$/);
  });

  it('normalizes typed codes and rejects what cannot be one', () => {
    expect(normalizeTotpCode(' 123 456 ')).to.equal('123456');
    for (const bad of ['12345', '1234567', '12345a', '']) expect(normalizeTotpCode(bad), bad).to.equal(undefined);
    expect(normalizeRecoveryCode('ABCD-EFGH-2345-6723')).to.equal('abcdefgh23456723');
    for (const bad of ['abcd-efgh-2345-672', 'abcd-efgh-2345-6781', '0000000000000000'])
      expect(normalizeRecoveryCode(bad), bad).to.equal(undefined);
  });
});

describe('mfa: conformance', () => {
  it('passes every conformance check', async function () {
    this.timeout(60_000);
    const mailDir = tmpDir('gantry-mfa-mail-');
    const results = await checkConformance({
      plugin,
      with: [httpPlugin, databasePlugin, auditPlugin, rbacPlugin, authJwtPlugin, mailerPlugin, usersPlugin],
      config: {
        database: { dbName: ':memory:' },
        'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test' },
        mailer: { transport: 'file', from: 'noreply@example.com', baseUrl: 'http://localhost:3000', outDir: mailDir },
        mfa: { encryptionKey: TEST_KEY },
      },
    });
    const failed = results.filter((r) => !r.ok).map((r) => `${r.check}: ${r.message}`);
    expect(failed).to.deep.equal([]);
    expect(results.map((r) => r.check)).to.include.members([
      'metadata',
      'config-documented',
      'boots',
      'health-check',
      'ready',
      'isolated',
      'stops',
      'no-leaked-handles',
      'no-global-state',
    ]);
  });
});
