// The graphql plugin on a real listening server: graphql-http's own GraphQL-over-HTTP audit, access
// declared per field and checked at boot, depth and complexity refused before execution, DataLoader
// batching measured in SQL queries, persisted queries, and graphql-ws subscriptions fed by the event bus.
import { createHash } from 'node:crypto';
import { definePlugin, EventBusToken } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as rateLimitPlugin } from '@gantry/plugin-rate-limit';
import { createTestKernel, type LogLine, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { serverAudits } from 'graphql-http';
import { createClient } from 'graphql-ws';
import { WebSocket } from 'ws';
import { GraphqlToken, plugin } from '../src/index.js';
import { boot, calls, gql, tokenFor, USERS } from './support/harness.js';

async function bootError(
  plugins: Parameters<typeof createTestKernel>[0]['plugins'],
): Promise<{ code?: string; cause?: { code?: string; message?: string } }> {
  try {
    const k = await createTestKernel({ plugins, config: { 'auth-jwt': { issuer: 'https://t', audience: 't' } } });
    await k.stop();
  } catch (err) {
    return err as never;
  }
  throw new Error('the kernel booted');
}

describe('graphql', function () {
  this.timeout(60_000);
  let kernel: TestKernel;
  const lines: LogLine[] = [];

  before(async () => {
    kernel = await boot({ lines });
  });
  after(async () => {
    await kernel.stop();
  });

  it('passes every MUST of graphql-http’s GraphQL-over-HTTP audit (counts reported)', async () => {
    const results = await Promise.all(
      serverAudits({ url: `${kernel.url()}/graphql`, fetchFn: fetch }).map((a) => a.fn()),
    );
    const counts = { ok: 0, notice: 0, warn: 0, error: 0 } as Record<string, number>;
    for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
    console.log(`      audit: ${results.length} audits, ${JSON.stringify(counts)}`);
    for (const r of results.filter((r) => r.status !== 'ok'))
      console.log(`        ${r.status} ${r.name}: ${'reason' in r ? r.reason : ''}`);
    const failedMusts = results.filter((r) => r.name.startsWith('MUST') && r.status !== 'ok');
    expect(failedMusts.map((r) => r.name)).to.deep.equal([]);
    expect(results.filter((r) => r.name.startsWith('MUST')).length).to.be.greaterThan(10);
  });

  describe('authorization', () => {
    it('serves public fields to anyone and the caller’s own user with a bearer token', async () => {
      expect((await gql(kernel, { query: '{ hello }' })).body).to.deep.equal({ data: { hello: 'world' } });
      const token = await tokenFor(kernel, 'ann');
      expect((await gql(kernel, { query: '{ me { id name } }' }, token)).body.data).to.deep.equal({
        me: { id: 'ann', name: 'user ann' },
      });
    });

    it('denies a field with a coded error: anonymous, then signed in without the permission', async () => {
      const anonymous = await gql(kernel, { query: '{ me { id } }' });
      expect(anonymous.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_UNAUTHENTICATED' });
      const token = await tokenFor(kernel, 'bob');
      const before = calls['Query.secret'] ?? 0;
      const denied = await gql(kernel, { query: '{ secret hello }' }, token);
      expect(denied.body.errors?.[0]).to.deep.include({ path: ['secret'] });
      expect(denied.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_FORBIDDEN', status: 403 });
      expect(denied.body.data).to.deep.equal({ secret: null, hello: 'world' });
      expect(calls['Query.secret'] ?? 0).to.equal(before);
    });

    it('checks field-level declarations too (User.email needs users:write)', async () => {
      const token = await tokenFor(kernel, 'carl', 'reader');
      const res = await gql(kernel, { query: '{ users(first: 2) { id email } }' }, token);
      expect(res.body.errors?.map((e) => (e.extensions as { code: string }).code)).to.deep.equal([
        'GANTRY_GRAPHQL_FORBIDDEN',
        'GANTRY_GRAPHQL_FORBIDDEN',
      ]);
    });

    it('refuses a bad bearer token like any route (401 problem)', async () => {
      const res = await gql(kernel, { query: '{ hello }' }, 'not-a-token');
      expect(res.status).to.equal(401);
    });

    it('refuses the boot when a root field declares no access, naming it', async () => {
      const careless = definePlugin({
        name: 'careless',
        version: '0.1.0',
        kernel: '^0.1.0',
        dependsOn: ['graphql'],
        register(ctx) {
          ctx.container.get(GraphqlToken).contribute({
            typeDefs: 'extend type Query { open: String, declared: String }',
            resolvers: { Query: { open: () => 'x', declared: { access: 'public', resolve: () => 'y' } } },
          });
        },
      });
      const err = await bootError([httpPlugin, authJwtPlugin, plugin, careless]);
      expect(err.cause?.code).to.equal('GANTRY_GRAPHQL_FIELD_UNDECLARED');
      expect(err.cause?.message).to.include('Query.open');
      expect(err.cause?.message).not.to.include('Query.declared');
    });
  });

  describe('limits, before execution', () => {
    it('refuses a query deeper than maxDepth without calling any resolver', async () => {
      const token = await tokenFor(kernel, 'dee', 'reader');
      const before = { users: calls['Query.users'] ?? 0, friends: calls['User.friends'] ?? 0 };
      const deep = `{ users(first: 1) { friends { friends { friends { friends { friends { friends { friends { friends { id } } } } } } } } } }`;
      const res = await gql(kernel, { query: deep }, token);
      expect(res.status).to.equal(400);
      expect(res.body.data).to.equal(undefined);
      expect(res.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_TOO_DEEP' });
      expect(calls['Query.users'] ?? 0).to.equal(before.users);
      expect(calls['User.friends'] ?? 0).to.equal(before.friends);
      // Through fragments as well.
      const viaFragments = `query { users(first: 1) { ...A } } fragment A on User { friends { ...B } } fragment B on User { friends { friends { friends { friends { friends { friends { friends { id } } } } } } } }`;
      const res2 = await gql(kernel, { query: viaFragments }, token);
      expect(res2.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_TOO_DEEP' });
      expect(calls['Query.users'] ?? 0).to.equal(before.users);
    });

    it('refuses a query costlier than maxComplexity without calling any resolver', async () => {
      const token = await tokenFor(kernel, 'eve', 'reader');
      const before = calls['Query.users'] ?? 0;
      // Shallow but wide: 1000 users × several fields, far over the default 1000.
      const res = await gql(kernel, { query: '{ users(first: 1000) { id name roles friends { id name } } }' }, token);
      expect(res.status).to.equal(400);
      expect(res.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_TOO_COMPLEX' });
      // Aliases multiply cost too.
      const aliases = Array.from({ length: 1_100 }, (_, i) => `a${i}: hello`).join(' ');
      const res2 = await gql(kernel, { query: `{ users(first: 5) { id name } ${aliases} }` }, token);
      expect(res2.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_TOO_COMPLEX' });
      expect(calls['Query.users'] ?? 0).to.equal(before);
    });
  });

  describe('rate limits', () => {
    it('guards /graphql with rate-limit’s default policy (429 problem past the limit)', async () => {
      const limited = await boot({
        extra: [rateLimitPlugin],
        config: { 'rate-limit': { store: 'memory', default: { windowMs: 60_000, limit: 2 } } },
      });
      try {
        expect((await gql(limited, { query: '{ hello }' })).status).to.equal(200);
        expect((await gql(limited, { query: '{ hello }' })).status).to.equal(200);
        const refused = await gql(limited, { query: '{ hello }' });
        expect(refused.status).to.equal(429);
        expect((refused.body as { code?: string }).code).to.equal('GANTRY_RATE_LIMIT_EXCEEDED');
        // A subscription upgrade from the same client counts under the same policy: refused before the handshake.
        const upgrade = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const ws = new WebSocket(`${limited.url().replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
          ws.on('unexpected-response', (_req, res) => {
            let body = '';
            res.on('data', (c: Buffer) => {
              body += c.toString();
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          ws.on('open', () => {
            ws.terminate();
            reject(new Error('the upgrade was accepted past the limit'));
          });
          ws.on('error', () => undefined);
        });
        expect(upgrade.status).to.equal(429);
        expect(JSON.parse(upgrade.body)).to.include({ code: 'GANTRY_RATE_LIMIT_EXCEEDED', policy: 'default' });
      } finally {
        await limited.stop();
      }
    });
  });

  describe('DataLoader', () => {
    it('lists users with roles in 2 SQL queries, where resolving roles per user takes N+1', async () => {
      const token = await tokenFor(kernel, 'fay', 'reader');
      const queries = (): number =>
        lines.filter((l) => l.fields.namespace === 'query' && String(l.fields.sql).includes('gq_')).length;

      let at = queries();
      const batched = await gql(kernel, { query: `{ users(first: ${USERS}) { id roles } }` }, token);
      expect(batched.body.errors).to.equal(undefined);
      const users = batched.body.data?.users as { id: string; roles: string[] }[];
      expect(users).to.have.length(USERS);
      expect(users[4]).to.deep.equal({ id: 'u04', roles: ['team-1', 'user'] });
      const withLoader = queries() - at;

      at = queries();
      const naive = await gql(kernel, { query: `{ users(first: ${USERS}) { id rolesNaive } }` }, token);
      expect((naive.body.data?.users as { rolesNaive: string[] }[] | undefined)?.[4]?.rolesNaive).to.deep.equal([
        'team-1',
        'user',
      ]);
      const withoutLoader = queries() - at;
      console.log(
        `      SQL queries for ${USERS} users with roles: ${withLoader} with DataLoader, ${withoutLoader} without`,
      );
      expect(withLoader).to.equal(2);
      expect(withoutLoader).to.equal(USERS + 1);
    });
  });

  describe('errors and introspection', () => {
    it('gives syntax and validation errors a Gantry code', async () => {
      const res = await gql(kernel, { query: '{ nope }' });
      expect(res.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_INVALID_QUERY' });
      const syntax = await gql(kernel, { query: '{ hello' });
      expect(syntax.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_INVALID_QUERY' });
    });

    it('serves introspection in the embedded profile and refuses it when turned off', async () => {
      const on = await gql(kernel, { query: '{ __schema { queryType { name } } }' });
      expect(on.body.data).to.deep.equal({ __schema: { queryType: { name: 'Query' } } });
      const closed = await boot({ graphql: { introspection: false } });
      try {
        const off = await gql(closed, { query: '{ __schema { queryType { name } } }' });
        expect(off.body.errors?.[0]?.message).to.match(/introspection/i);
        expect(off.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_INVALID_QUERY' });
      } finally {
        await closed.stop();
      }
    });
  });

  describe('persisted queries', () => {
    it('runs an allow-listed document by hash, refuses unknown hashes, and in "only" mode any other text', async () => {
      const doc = '{ hello }';
      const hash = createHash('sha256').update(doc).digest('hex');
      const strict = await boot({ graphql: { persistedQueries: { documents: [doc], only: true } } });
      try {
        const byHash = await gql(strict, { extensions: { persistedQuery: { version: 1, sha256Hash: hash } } });
        expect(byHash.body).to.deep.equal({ data: { hello: 'world' } });
        const get = await fetch(
          `${strict.url()}/graphql?extensions=${encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } }))}`,
          { headers: { accept: 'application/graphql-response+json' } },
        );
        expect(await get.json()).to.deep.equal({ data: { hello: 'world' } });
        const unknown = await gql(strict, {
          extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } },
        });
        expect(unknown.body.errors?.[0]?.extensions).to.deep.include({
          code: 'GANTRY_GRAPHQL_PERSISTED_QUERY_NOT_FOUND',
        });
        const other = await gql(strict, { query: '{ hello hello2: hello }' });
        expect(other.body.errors?.[0]?.extensions).to.deep.include({ code: 'GANTRY_GRAPHQL_PERSISTED_QUERY_REQUIRED' });
      } finally {
        await strict.stop();
      }
    });
  });

  describe('subscriptions (graphql-ws)', () => {
    it('pushes event-bus events to an authenticated subscriber, and refuses an anonymous one with a coded error', async () => {
      const url = `${kernel.url().replace(/^http/, 'ws')}/graphql`;
      const token = await tokenFor(kernel, 'gil');
      const client = createClient({
        url,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
      });
      const anonymous = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
      try {
        const received: unknown[] = [];
        const done = new Promise<void>((resolve, reject) => {
          client.subscribe(
            { query: 'subscription { notices { text } }' },
            {
              next: (value) => {
                received.push(value);
                resolve();
              },
              error: reject,
              complete: () => resolve(),
            },
          );
        });
        // Publish until the subscription (set up asynchronously) sees one: bounded by the deadline below.
        const bus = kernel.get(EventBusToken);
        const deadline = Date.now() + 10_000;
        let delivered = false;
        void done.then(() => {
          delivered = true;
        });
        while (!delivered && Date.now() < deadline) {
          await bus.publish({ topic: 'notices', payload: { text: 'hello' } });
          await new Promise((r) => setTimeout(r, 20));
        }
        await done;
        expect(received[0]).to.deep.equal({ data: { notices: { text: 'hello' } } });

        const refused = await new Promise<unknown>((resolve) => {
          anonymous.subscribe(
            { query: 'subscription { notices { text } }' },
            { next: (v) => resolve(v), error: (e) => resolve(e), complete: () => resolve('complete') },
          );
        });
        expect(JSON.stringify(refused)).to.include('GANTRY_GRAPHQL_UNAUTHENTICATED');
      } finally {
        await client.dispose();
        await anonymous.dispose();
      }
    });
  });
});
