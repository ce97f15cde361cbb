// Role changes across instances through the real Redis (127.0.0.1:6379): two kernels share one SQLite
// file and a pub/sub channel of their own; each keeps roles in memory for a minute.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { definePlugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as auditPlugin } from '@gantry/plugin-audit';
import { AuthJwtToken, plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as redisPlugin } from '@gantry/plugin-redis';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { plugin as rbacPlugin, RbacToken, requires, USER_ROLE } from '../src/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const notes = definePlugin({
  name: 'notes',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.get('/notes', { summary: 'needs notes:read', meta: { ...requires('notes:read') } }, () => ({ ok: true }));
    ctx.health.check(() => ({ status: 'up' }));
  },
});

async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never happened: ${what}`);
}

describe('rbac: role changes reach the other instances through Redis', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-rbac-redis-'));
  const kernels: TestKernel[] = [];
  after(async () => {
    while (kernels.length) await kernels.pop()!.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function boot(dbName: string, channel: string, redisUrl = REDIS_URL): Promise<TestKernel> {
    const tk = await createTestKernel({
      plugins: [httpPlugin, databasePlugin, redisPlugin, auditPlugin, authJwtPlugin, rbacPlugin, notes],
      config: {
        database: { driver: 'sqlite', dbName, migrateOnStart: true },
        redis: { url: redisUrl, critical: false, connectTimeoutMs: 200 },
        'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test', store: 'memory' },
        audit: { route: false },
        rbac: {
          roles: { reader: { description: 'Reads notes', permissions: ['notes:read'] } },
          roleCacheTtlMs: 60_000,
          changesChannel: channel,
        },
      },
    });
    kernels.push(tk);
    return tk;
  }

  const status = async (tk: TestKernel, subject: string): Promise<number> =>
    (
      await tk.inject({
        method: 'GET',
        url: '/api/v1/notes',
        headers: { authorization: `Bearer ${(await tk.get(AuthJwtToken).issuePair(subject)).accessToken}` },
      })
    ).statusCode;

  it('a grant and a revocation on A apply on B at once, though B keeps roles for a minute', async () => {
    const db = path.join(dir, 'shared.sqlite');
    const channel = `gantry:rbac-test:${randomBytes(6).toString('hex')}`;
    const a = await boot(db, channel);
    const b = await boot(db, channel);
    expect(await status(b, 'mover')).to.equal(403); // B now holds "no roles" in memory
    await a.get(RbacToken).grant('mover', 'reader');
    await until(async () => (await status(b, 'mover')) === 200, 'the grant on B');
    await a.get(RbacToken).setRoles('mover', [USER_ROLE]);
    await until(async () => (await status(b, 'mover')) === 403, 'the revocation on B');
  });

  it('a custom role created and changed on A is known on B at once', async () => {
    const db = path.join(dir, 'roles.sqlite');
    const channel = `gantry:rbac-test:${randomBytes(6).toString('hex')}`;
    const a = await boot(db, channel);
    const b = await boot(db, channel);
    await a.get(RbacToken).createRole({ name: 'auditor', description: 'Reads notes', permissions: ['notes:read'] });
    await until(
      async () =>
        (await b.get(RbacToken).listRoles()).some((r) => r.name === 'auditor' && r.permissions.includes('notes:read')),
      'the new role on B',
    );
    // B can hand the role out and check it.
    await b.get(RbacToken).setRoles('checker', ['auditor']);
    expect(await status(b, 'checker')).to.equal(200);
    await a.get(RbacToken).updateRole('auditor', { permissions: [] });
    await until(async () => (await status(b, 'checker')) === 403, 'the emptied role on B');
  });

  it("without Redis, a change on A waits for B's cache to expire (the channel is the only messenger)", async () => {
    const db = path.join(dir, 'no-redis.sqlite');
    const channel = `gantry:rbac-test:${randomBytes(6).toString('hex')}`;
    const a = await boot(db, channel);
    const b = await boot(db, channel, 'redis://127.0.0.1:1');
    expect(await status(b, 'stale')).to.equal(403);
    await a.get(RbacToken).grant('stale', 'reader');
    expect(await status(a, 'stale')).to.equal(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(await status(b, 'stale')).to.equal(403);
  });
});
