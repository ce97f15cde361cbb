// Two sandbox processes sharing the real Redis (REDIS_URL, default 127.0.0.1:6379) and one signing key,
// as behind a load balancer: a note created through instance A is pushed to its owner's WebSocket
// connected to instance B. A channel of its own per run keeps parallel runs apart.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { repo, startSandbox, stopSandbox, type Sandbox } from '../support/sandbox-process.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN = { SANDBOX_ADMIN_EMAIL: 'root@fanout.test', SANDBOX_ADMIN_PASSWORD: 'Seeded-Admin-Passphrase-7' };

describe('sandbox: two instances sharing Redis, a WebSocket client on each', function () {
  this.timeout(90_000);
  let dir: string;
  const apps: Sandbox[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-fanout-'));
    // The sandbox's own config with the redis plugin on and a channel of this run's own.
    const config = JSON.parse(readFileSync(path.join(repo, 'sandbox/gantry.config.json'), 'utf8')) as {
      plugins: Record<string, unknown>;
      profiles: Record<string, { plugins: Record<string, unknown> }>;
    };
    // Local plugin paths are relative to the config file: anchor them to the sandbox's folder.
    const anchored = (plugins: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(plugins).map(([k, v]) => [k.startsWith('./') ? path.join(repo, 'sandbox', k) : k, v]),
      );
    config.plugins = anchored(config.plugins);
    for (const profile of Object.values(config.profiles)) profile.plugins = anchored(profile.plugins);
    config.plugins.redis = { url: REDIS_URL };
    config.plugins.websocket = {
      ...(config.plugins.websocket as object),
      redisChannel: `gantry:websocket-e2e:${randomBytes(6).toString('hex')}`,
    };
    const file = path.join(dir, 'gantry.config.json');
    writeFileSync(file, JSON.stringify(config));
    const keys = JSON.stringify([
      {
        kid: 'shared',
        privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
      },
    ]);
    for (const name of ['a', 'b'])
      apps.push(
        await startSandbox({
          GANTRY_CONFIG: file,
          GANTRY_AUTH_JWT__KEYS: keys,
          // One issuer for both (the sandbox's default names its own port).
          GANTRY_AUTH_JWT__ISSUER: 'http://fanout.test',
          GANTRY_DATABASE__DB_NAME: path.join(dir, `${name}.sqlite`),
          GANTRY_MAILER__OUT_DIR: path.join(dir, `mail-${name}`),
          ...ADMIN,
        }),
      );
  });
  after(async () => {
    for (const app of apps) await stopSandbox(app);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a note created through instance A reaches its owner’s sockets on instance A and on instance B', async () => {
    const [a, b] = apps as [Sandbox, Sandbox];
    const login = await fetch(`${a.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN.SANDBOX_ADMIN_EMAIL, password: ADMIN.SANDBOX_ADMIN_PASSWORD }),
    });
    const { accessToken } = (await login.json()) as { accessToken: string };
    // The same key signs on both: B accepts A's token. One client on each instance.
    const open = async (base: string) => {
      const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws`, ['gantry.v1', `gantry.bearer.${accessToken}`]);
      const messages: Record<string, unknown>[] = [];
      ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      return { ws, messages };
    };
    const onA = await open(a.base);
    const onB = await open(b.base);
    const until = async (test: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!test()) {
        if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(() => [onA, onB].every((c) => c.messages.some((m) => m.type === 'welcome')), 'welcome');

    const created = await fetch(`${a.base}/api/v1/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
      body: JSON.stringify({ title: 'from A' }),
    });
    expect(created.status).to.equal(201);
    const note = (await created.json()) as { id: string };
    await until(() => [onA, onB].every((c) => c.messages.some((m) => m.type === 'message')), 'pushes');
    for (const c of [onA, onB]) {
      const pushed = c.messages.find((m) => m.type === 'message');
      expect(pushed?.channel).to.match(/^user:/);
      expect(pushed?.data).to.deep.include({ event: 'notes.changed', action: 'created', id: note.id, title: 'from A' });
      // Exactly once each: A's own copy coming back through Redis is not delivered again.
      expect(c.messages.filter((m) => m.type === 'message')).to.have.length(1);
      c.ws.terminate();
    }
  });
});
