// The sandbox's example resource teaches the right pattern: notes belong to their author, another
// account's note is a 404, an administrator (notes:read-any / notes:write-any) sees and manages all;
// and every PATCH of the sandbox changes only what it names.
import { HttpServerToken } from '@gantry/http';
import { EventsToken } from '@gantry/plugin-kafka-events';
import { expect } from 'chai';
import { bootSandboxKernel, type SandboxKernel } from '../support/sandbox-kernel.js';

describe('sandbox notes: owned by their author', function () {
  this.timeout(30_000);
  let sandbox: SandboxKernel;
  let ada: { id: string; token: string };
  let bob: { id: string; token: string };
  let admin: { id: string; token: string };

  before(async () => {
    sandbox = await bootSandboxKernel();
    ada = await sandbox.tokenFor('ada@example.com', ['user']);
    bob = await sandbox.tokenFor('bob@example.com', ['user']);
    admin = await sandbox.tokenFor('root@example.com', ['admin']);
  });
  after(() => sandbox?.stop());

  async function call(
    who: { token: string } | undefined,
    method: string,
    url: string,
    payload?: unknown,
  ): Promise<{ status: number; body: any }> {
    const res = await sandbox.inject({
      method: method as 'GET',
      url: `/api/v1${url}`,
      headers: who ? { authorization: `Bearer ${who.token}` } : {},
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  }

  it('refuses every notes route to an anonymous caller (401)', async () => {
    for (const [method, url] of [
      ['GET', '/notes'],
      ['POST', '/notes'],
      ['GET', '/notes/00000000-0000-4000-8000-000000000000'],
      ['PATCH', '/notes/00000000-0000-4000-8000-000000000000'],
      ['DELETE', '/notes/00000000-0000-4000-8000-000000000000'],
    ] as const) {
      expect(
        (await call(undefined, method, url, method === 'GET' || method === 'DELETE' ? undefined : { title: 'x' }))
          .status,
        `${method} ${url}`,
      ).to.equal(401);
    }
  });

  it('the owner creates, reads, lists, changes and deletes; another account gets 404 and never sees it listed', async () => {
    const created = await call(ada, 'POST', '/notes', { title: 'ada private', body: 'secret' });
    expect(created.status).to.equal(201);
    expect(created.body.ownerId).to.equal(ada.id);
    const id = created.body.id as string;
    expect((await call(ada, 'GET', `/notes/${id}`)).body.title).to.equal('ada private');
    expect((await call(ada, 'GET', `/notes/${id.toUpperCase()}`)).status, 'an upper-case id finds the note').to.equal(
      200,
    );

    for (const [method, payload] of [
      ['GET', undefined],
      ['PATCH', { title: 'hijacked' }],
      ['DELETE', undefined],
    ] as const) {
      const refused = await call(bob, method, `/notes/${id}`, payload);
      expect(refused.status, method).to.equal(404);
      expect(refused.body.code).to.equal('GANTRY_SANDBOX_NOTE_NOT_FOUND');
    }
    const bobs = await call(bob, 'GET', '/notes');
    expect(bobs.body.items.map((n: { id: string }) => n.id)).to.not.include(id);
    expect(
      (await call(bob, 'GET', `/notes?owner=${ada.id}`)).status,
      "listing someone else's notes needs notes:read-any",
    ).to.equal(403);
    expect((await call(bob, 'GET', '/notes?owner=all')).status).to.equal(403);

    expect((await call(ada, 'GET', `/notes/${id}`)).body.title, 'unchanged by the refused PATCH').to.equal(
      'ada private',
    );
    const mine = await call(ada, 'GET', '/notes');
    expect(mine.body.items.map((n: { id: string }) => n.id)).to.include(id);
    expect((await call(ada, 'PATCH', `/notes/${id}`, { title: 'renamed' })).status).to.equal(200);
    expect((await call(ada, 'DELETE', `/notes/${id}`)).status).to.equal(204);
    expect((await call(ada, 'GET', `/notes/${id}`)).status).to.equal(404);
  });

  it('an administrator reads, lists (all or one owner), changes and deletes any note', async () => {
    const id = (await call(bob, 'POST', '/notes', { title: 'bob note' })).body.id as string;
    expect((await call(admin, 'GET', `/notes/${id}`)).status).to.equal(200);
    const all = await call(admin, 'GET', '/notes?owner=all&limit=100');
    expect(all.body.items.map((n: { id: string }) => n.id)).to.include(id);
    const bobsOnly = await call(admin, 'GET', `/notes?owner=${bob.id}`);
    expect(bobsOnly.body.items.every((n: { ownerId: string }) => n.ownerId === bob.id)).to.equal(true);
    expect((await call(admin, 'PATCH', `/notes/${id}`, { body: 'moderated' })).body.body).to.equal('moderated');
    expect((await call(admin, 'DELETE', `/notes/${id}`)).status).to.equal(204);
  });

  it('publishes notes.created through the outbox with the note; the activity projection consumes it once', async () => {
    const carol = await sandbox.tokenFor('carol@example.com', ['user']);
    expect((await call(carol, 'GET', '/notes/activity')).body).to.deep.equal({
      ownerId: carol.id,
      notesCreated: 0,
      lastNoteId: null,
      projected: true,
    });
    const first = await call(carol, 'POST', '/notes', { title: 'one' });
    const second = await call(carol, 'POST', '/notes', { title: 'two' });
    expect([first.status, second.status]).to.deep.equal([201, 201]);
    const deadline = Date.now() + 10_000;
    let activity = (await call(carol, 'GET', '/notes/activity')).body;
    while (activity.notesCreated < 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      activity = (await call(carol, 'GET', '/notes/activity')).body;
    }
    expect(activity).to.deep.equal({ ownerId: carol.id, notesCreated: 2, lastNoteId: second.body.id, projected: true });
    // A refused note (invalid input) publishes nothing.
    expect((await call(carol, 'POST', '/notes', { title: '' })).status).to.equal(400);
    const stats = await sandbox.kernel.container.get(EventsToken).outboxStats();
    expect(stats?.depth).to.equal(0);
  });

  it('audits every change with its actor', async () => {
    const id = (await call(ada, 'POST', '/notes', { title: 'audited' })).body.id as string;
    await call(ada, 'PATCH', `/notes/${id}`, { body: 'changed' });
    await call(ada, 'DELETE', `/notes/${id}`);
    const trail = await call(admin, 'GET', '/audit?limit=50');
    const mine = trail.body.items.filter((e: { object?: { id: string } }) => e.object?.id === id);
    expect(mine.map((e: { action: string }) => e.action).sort()).to.deep.equal([
      'note.create',
      'note.delete',
      'note.update',
    ]);
    expect(mine.every((e: { actor?: { id: string } }) => e.actor?.id === ada.id)).to.equal(true);
  });

  describe('PATCH changes only what it names', () => {
    /** One case per PATCH route of the sandbox: how to make a resource, the change, and how to read it back. */
    const cases: Record<
      string,
      { make(): Promise<string>; change: Record<string, unknown>; read(id: string): Promise<Record<string, unknown>> }
    > = {
      '/api/v1/notes/:id': {
        make: async () => (await call(ada, 'POST', '/notes', { title: 'before', body: 'keep me' })).body.id,
        change: { title: 'after' },
        read: async (id) => (await call(ada, 'GET', `/notes/${id}`)).body,
      },
      '/api/v1/users/me': {
        make: async () => (await sandbox.tokenFor('patch-me@example.com', ['user'])).id,
        change: { name: 'Renamed' },
        read: async () =>
          (await call(await sandbox.tokenFor('patch-me@example.com', ['user']), 'GET', '/users/me')).body,
      },
      '/api/v1/users/:id': {
        make: async () => (await sandbox.tokenFor(`patched-${Date.now()}@example.com`, ['user'])).id,
        change: { name: 'Changed By Admin' },
        read: async (id) => (await call(admin, 'GET', `/users/${id}`)).body,
      },
      '/api/v1/roles/:name': {
        make: async () => {
          const name = `r${Date.now()}`;
          await call(admin, 'POST', '/roles', {
            name,
            description: 'keeps its permissions',
            permissions: ['users:read'],
          });
          return name;
        },
        change: { description: 'new words' },
        read: async (name) =>
          (await call(admin, 'GET', '/roles')).body.roles.find((r: { name: string }) => r.name === name),
      },
    };

    it('has a case for every PATCH route (a new one cannot escape this test)', () => {
      const patchRoutes = sandbox.kernel.container
        .get(HttpServerToken)
        .routes()
        .filter((r) => r.method === 'PATCH')
        .map((r) => r.path);
      expect(patchRoutes.sort()).to.deep.equal(Object.keys(cases).sort());
    });

    for (const [route, c] of Object.entries(cases)) {
      it(`${route}: the other fields stay, {} is a 400, and the answer carries the new updatedAt`, async () => {
        const id = await c.make();
        const before = await c.read(id);
        const who =
          route === '/api/v1/users/me'
            ? await sandbox.tokenFor('patch-me@example.com', ['user'])
            : route.startsWith('/api/v1/notes')
              ? ada
              : admin;
        const url = route.replace('/api/v1', '').replace(/:id|:name/, id);
        await new Promise((r) => setTimeout(r, 5)); // a later millisecond, so a stale updatedAt shows
        const answer = await call(who, 'PATCH', url, c.change);
        expect(answer.status, JSON.stringify(answer.body)).to.equal(200);
        const after = await c.read(id);
        for (const [key, value] of Object.entries(before)) {
          if (key in c.change || key === 'updatedAt') continue;
          expect(after[key], `${key} is unchanged`).to.deep.equal(value);
        }
        for (const [key, value] of Object.entries(c.change)) expect(after[key], key).to.deep.equal(value);
        if ('updatedAt' in after) {
          expect(answer.body.updatedAt, 'the answer is what is stored').to.equal(after.updatedAt);
          expect(after.updatedAt).to.not.equal(before.updatedAt);
        }
        const empty = await call(who, 'PATCH', url, {});
        expect(empty.status).to.equal(400);
        expect(empty.body.errors[0].message).to.match(/^send at least one of: /);
      });
    }
  });
});
