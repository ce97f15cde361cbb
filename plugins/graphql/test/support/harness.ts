// A kernel with auth-jwt, rbac on SQLite and the graphql plugin, and a test plugin contributing a small
// schema over two real tables (users and their roles), with counters of resolver calls.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { definePlugin, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { AuthJwtToken, plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { DatabaseToken, plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as rbacPlugin, RbacToken } from '@gantry/plugin-rbac';
import { createTestKernel, memoryLogger, type LogLine, type TestKernel } from '@gantry/testing';
import { GraphqlToken, plugin as graphqlPlugin, type GraphqlContext } from '../../src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'gantry-gql-'));
let n = 0;

/** Resolver calls since the kernel booted, per field. */
export const calls: Record<string, number> = {};
const count = (field: string): void => {
  calls[field] = (calls[field] ?? 0) + 1;
};

/** Counts a call of `field` and returns `value`. */
function counted<T>(field: string, value: T): T {
  count(field);
  return value;
}

export const USERS = 20;

/** Contributes users (with roles, through a DataLoader, and naively), a secret, and a subscription. */
export const directory: Plugin = definePlugin({
  name: 'directory',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['graphql', 'database'],
  register(ctx) {
    const registry = ctx.container.get(GraphqlToken);
    const db = ctx.container.get(DatabaseToken);
    const sql = <T>(query: string, params: unknown[] = []): Promise<T[]> =>
      db.em().getConnection().execute(query, params) as Promise<T[]>;
    registry.loader<string, string[]>('rolesByUser', async (ids) => {
      count('loader.rolesByUser');
      const rows = await sql<{ user_id: string; role: string }>(
        `select user_id, role from gq_roles where user_id in (${ids.map(() => '?').join(',')}) order by role`,
        [...ids],
      );
      return ids.map((id) => rows.filter((r) => r.user_id === id).map((r) => r.role));
    });
    registry.contribute(
      {
        typeDefs: `
          type User { id: ID! name: String! roles: [String!]! rolesNaive: [String!]! email: String friends: [User!]! }
          type Notice { text: String! }
          extend type Query {
            hello: String
            me: User
            users(first: Int = 10): [User!]!
            secret: String
          }
          type Mutation { shout(text: String!): String }
          type Subscription { notices: Notice }
        `,
        resolvers: {
          Query: {
            hello: { access: 'public', resolve: () => counted('Query.hello', 'world') },
            me: {
              access: 'authenticated',
              resolve: (_s, _a, c) => counted('Query.me', { id: c.principal!.id, name: `user ${c.principal!.id}` }),
            },
            users: {
              access: { permission: 'users:read' },
              complexity: ({ args, childComplexity }) => Number(args.first ?? 10) * childComplexity,
              resolve: async (_s, args: { first: number }) => {
                count('Query.users');
                return sql('select id, name from gq_users order by id limit ?', [args.first]);
              },
            },
            secret: { access: { permission: 'ops:read' }, resolve: () => counted('Query.secret', 's3cret') },
          },
          Mutation: { shout: { access: 'authenticated', resolve: (_s, a: { text: string }) => a.text.toUpperCase() } },
          Subscription: {
            notices: { access: 'authenticated', subscribe: () => registry.events<{ text: string }>('notices') },
          },
          User: {
            roles: (u: { id: string }, _a: unknown, c: GraphqlContext) =>
              c.loader<string, string[]>('rolesByUser').load(u.id),
            rolesNaive: async (u: { id: string }) => {
              const rows = await sql<{ role: string }>('select role from gq_roles where user_id = ? order by role', [
                u.id,
              ]);
              return rows.map((r) => r.role);
            },
            email: { access: { permission: 'users:write' }, resolve: (u: { id: string }) => `${u.id}@example.com` },
            friends: (u: { id: string }) => counted('User.friends', [{ id: `${u.id}f`, name: 'friend' }]),
          },
        },
      },
      'directory',
    );
    ctx.lifecycle.hook({
      name: 'seed',
      start: async () => {
        await sql('create table if not exists gq_users (id text primary key, name text not null)');
        await sql('create table if not exists gq_roles (user_id text not null, role text not null)');
        for (let i = 0; i < USERS; i++) {
          const id = `u${String(i).padStart(2, '0')}`;
          await sql('insert into gq_users (id, name) values (?, ?)', [id, `User ${i}`]);
          await sql('insert into gq_roles (user_id, role) values (?, ?), (?, ?)', [id, 'user', id, `team-${i % 3}`]);
        }
      },
    });
  },
});

/** Boots a listening kernel; `lines` receives every log line (SQL queries included). */
export async function boot(
  options: {
    graphql?: Record<string, unknown>;
    lines?: LogLine[];
    profile?: string;
    extra?: readonly Plugin[];
    config?: Record<string, Record<string, unknown>>;
  } = {},
): Promise<TestKernel> {
  return createTestKernel({
    plugins: [
      httpPlugin,
      databasePlugin,
      authJwtPlugin,
      rbacPlugin,
      graphqlPlugin,
      directory,
      ...(options.extra ?? []),
    ],
    profile: options.profile,
    ...(options.lines ? { logger: memoryLogger(options.lines) } : {}),
    config: {
      http: { listen: true, port: 0, host: '127.0.0.1' },
      database: {
        driver: 'sqlite',
        dbName: path.join(dir, `gql-${++n}.sqlite`),
        migrateOnStart: true,
        debug: options.lines !== undefined,
      },
      'auth-jwt': {
        issuer: 'https://gantry.test',
        audience: 'gantry-test',
        store: 'memory',
      },
      rbac: { roles: { reader: { description: 'Reads users', permissions: ['users:read'] } } },
      graphql: { ...options.graphql },
      ...options.config,
    },
  });
}

/** An access token for `userId`, after granting it `roles`. */
export async function tokenFor(kernel: TestKernel, userId: string, ...roles: string[]): Promise<string> {
  for (const role of roles) await kernel.get(RbacToken).grant(userId, role);
  return (await kernel.get(AuthJwtToken).issuePair(userId)).accessToken;
}

/** POSTs a GraphQL operation; returns status and parsed body. */
export async function gql(
  kernel: TestKernel,
  body: Record<string, unknown>,
  token?: string,
): Promise<{ status: number; body: { data?: Record<string, unknown> | null; errors?: Record<string, unknown>[] } }> {
  const res = await fetch(`${kernel.url()}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as never };
}
