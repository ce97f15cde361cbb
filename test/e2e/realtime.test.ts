// The sandbox's GraphQL and WebSocket surfaces as a newcomer meets them: a real process on a real
// socket (embedded profile). GraphQL over its services with the same bearer tokens as REST; a note
// created through REST pushed to its owner's WebSocket; SIGTERM closes every socket with 1001.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { startSandbox, type Sandbox } from '../support/sandbox-process.js';

const ADMIN = { SANDBOX_ADMIN_EMAIL: 'root@realtime.test', SANDBOX_ADMIN_PASSWORD: 'Seeded-Admin-Passphrase-7' };

/** A WebSocket client recording its JSON messages. */
async function client(
  url: string,
  token: string,
): Promise<{ ws: WebSocket; messages: Record<string, unknown>[]; closed: Promise<number> }> {
  const ws = new WebSocket(url, ['gantry.v1', `gantry.bearer.${token}`]);
  const messages: Record<string, unknown>[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages, closed };
}

async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('sandbox GraphQL and WebSocket (embedded profile, real process)', function () {
  this.timeout(60_000);
  let dir: string;
  let app: Sandbox;
  let token: string;

  const graphql = async (query: string, bearer = token): Promise<{ status: number; body: Record<string, any> }> => {
    const res = await fetch(`${app.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify({ query }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-realtime-'));
    app = await startSandbox({
      GANTRY_DATABASE__DB_NAME: path.join(dir, 'data.sqlite'),
      GANTRY_MAILER__OUT_DIR: path.join(dir, 'mail'),
      ...ADMIN,
    });
    const login = await fetch(`${app.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN.SANDBOX_ADMIN_EMAIL, password: ADMIN.SANDBOX_ADMIN_PASSWORD }),
    });
    token = ((await login.json()) as { accessToken: string }).accessToken;
  });
  after(async () => {
    if (app?.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await app.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers GraphQL with the services of the sandbox, the same caller as REST /users/me', async () => {
    const rest = (await (
      await fetch(`${app.base}/api/v1/users/me`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { id: string; email: string; roles: string[] };
    const me = await graphql('{ me { id email roles } }');
    expect(me.body.data.me).to.deep.equal({ id: rest.id, email: rest.email, roles: rest.roles });
    const listed = await graphql('{ users(limit: 5) { email roles } roles { name } audit(limit: 3) { action } }');
    expect(listed.body.errors).to.equal(undefined);
    expect(listed.body.data.users).to.deep.include({ email: ADMIN.SANDBOX_ADMIN_EMAIL, roles: [...rest.roles].sort() });
    expect(listed.body.data.roles.map((r: { name: string }) => r.name)).to.include('admin');
    expect(listed.body.data.audit.length).to.be.greaterThan(0);
    const created = await graphql('mutation { createNote(title: "via GraphQL", body: "b") { id title } }');
    expect(created.body.data.createNote.title).to.equal('via GraphQL');
    const mine = await graphql('{ notes(limit: 5) { id } }');
    expect(mine.body.data.notes.map((n: { id: string }) => n.id)).to.include(created.body.data.createNote.id);
    const invalid = await graphql('mutation { createNote(title: "") { id } }');
    expect(invalid.body.errors[0].extensions.code).to.equal('GANTRY_HTTP_VALIDATION');
    const audited = await graphql('{ audit(limit: 5, action: "note.create") { objectId } }');
    expect(audited.body.data.audit.map((e: { objectId: string }) => e.objectId)).to.include(
      created.body.data.createNote.id,
    );
    const anonymous = await fetch(`${app.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ users { id } }' }),
    });
    expect(((await anonymous.json()) as any).errors[0].extensions.code).to.equal('GANTRY_GRAPHQL_UNAUTHENTICATED');
  });

  it('takes the session cookie on /graphql with its CSRF token, and on /ws only from an allowed Origin', async () => {
    const login = await fetch(`${app.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: ADMIN.SANDBOX_ADMIN_EMAIL, password: ADMIN.SANDBOX_ADMIN_PASSWORD, session: true }),
    });
    expect(login.status).to.equal(200);
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const post = (headers: Record<string, string>) =>
      fetch(`${app.base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, ...headers },
        body: JSON.stringify({ query: '{ me { email } }' }),
      });
    const withoutCsrf = await post({});
    expect(withoutCsrf.status).to.equal(403);
    expect(((await withoutCsrf.json()) as { code: string }).code).to.equal('GANTRY_SESSIONS_REDIS_CSRF_INVALID');
    const withCsrf = await post({ 'x-csrf-token': csrfToken });
    expect(((await withCsrf.json()) as any).data.me.email).to.equal(ADMIN.SANDBOX_ADMIN_EMAIL);

    const url = `${app.base.replace(/^http/, 'ws')}/ws`;
    const port = new URL(app.base).port;
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url, ['gantry.v1'], { headers: { cookie, origin: 'https://evil.example' } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('a foreign Origin was let in with the cookie')));
      ws.on('error', () => undefined);
    });
    expect(refused).to.equal(403);
    const allowed = new WebSocket(url, ['gantry.v1'], { headers: { cookie, origin: `http://localhost:${port}` } });
    const welcome = await new Promise<Record<string, unknown>>((resolve, reject) => {
      allowed.once('message', (d) => resolve(JSON.parse(String(d)) as Record<string, unknown>));
      allowed.once('error', reject);
    });
    expect(welcome.type).to.equal('welcome');
    allowed.terminate();

    // graphql-ws subscriptions: the same rule.
    const init = (origin: string) =>
      new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`${app.base.replace(/^http/, 'ws')}/graphql`, ['graphql-transport-ws'], {
          headers: { cookie, origin },
        });
        ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
        ws.on('message', (d) => {
          resolve((JSON.parse(String(d)) as { type: string }).type);
          ws.terminate();
        });
        ws.on('close', (code) => resolve(`closed ${code}`));
        ws.on('error', reject);
      });
    expect(await init('https://evil.example')).to.equal('closed 4403');
    expect(await init(`http://localhost:${port}`)).to.equal('connection_ack');
    // Signed in by the cookie: an authenticated subscription gets the caller's own note changes.
    const sub = new WebSocket(`${app.base.replace(/^http/, 'ws')}/graphql`, ['graphql-transport-ws'], {
      headers: { cookie, origin: `http://localhost:${port}` },
    });
    const frames: { type: string; payload?: any }[] = [];
    sub.on('message', (d) => frames.push(JSON.parse(String(d)) as { type: string }));
    await new Promise<void>((resolve) => sub.on('open', () => resolve()));
    sub.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    await until(() => frames.some((f) => f.type === 'connection_ack'), 'ack');
    sub.send(
      JSON.stringify({
        id: '1',
        type: 'subscribe',
        payload: { query: 'subscription { noteChanged { action title } }' },
      }),
    );
    // The subscription is set up asynchronously: create notes until one is pushed (bounded by until's deadline).
    const deadline = Date.now() + 10_000;
    while (!frames.some((f) => f.type === 'next' || f.type === 'error') && Date.now() < deadline) {
      await fetch(`${app.base}/api/v1/notes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ title: 'via cookie subscription' }),
      });
      await new Promise((r) => setTimeout(r, 50));
    }
    const next = frames.find((f) => f.type === 'next' || f.type === 'error');
    expect(next?.payload).to.deep.equal({
      data: { noteChanged: { action: 'created', title: 'via cookie subscription' } },
    });
    sub.terminate();
  });

  it('pushes a note created through REST to its owner over WebSocket, then SIGTERM closes every socket with 1001', async () => {
    const url = `${app.base.replace(/^http/, 'ws')}/ws`;
    const owner = await client(url, token);
    const second = await client(url, token);
    await until(() => owner.messages.some((m) => m.type === 'welcome'), 'welcome');
    const created = await fetch(`${app.base}/api/v1/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ title: 'pushed', body: 'over the socket' }),
    });
    expect(created.status).to.equal(201);
    const note = (await created.json()) as { id: string };
    await until(() => owner.messages.some((m) => m.type === 'message'), 'note pushed');
    expect(owner.messages.find((m) => m.type === 'message')).to.deep.include({ type: 'message' });
    expect((owner.messages.find((m) => m.type === 'message')!.data as { id: string; action: string }).id).to.equal(
      note.id,
    );

    app.child.kill('SIGTERM');
    expect(await owner.closed).to.equal(1001);
    expect(await second.closed).to.equal(1001);
    expect(await app.exited).to.equal(0);
  });
});
