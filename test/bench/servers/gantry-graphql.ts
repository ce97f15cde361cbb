// The current user two ways in one Gantry process: REST `GET /api/v1/users/me` (the users plugin) and
// GraphQL `{ me { … } }` (the graphql plugin, resolved by the same users service). Kernel + http +
// metrics + database (SQLite in memory) + auth-jwt + rbac + audit + mailer (files) + users + graphql.
// Prints `{"port":…,"token":"…"}`: the access token of a seeded account.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKernel, definePlugin, silentLogger } from '@gantry/core';
import { plugin as http, HttpServerToken } from '@gantry/http';
import { plugin as audit } from '@gantry/plugin-audit';
import { AuthJwtToken, plugin as authJwt } from '@gantry/plugin-auth-jwt';
import { plugin as database } from '@gantry/plugin-database';
import { GraphqlToken, plugin as graphql, type GraphqlContext } from '@gantry/plugin-graphql';
import { plugin as mailer } from '@gantry/plugin-mailer';
import { plugin as metrics } from '@gantry/plugin-metrics';
import { plugin as rbac } from '@gantry/plugin-rbac';
import { plugin as users, UsersToken } from '@gantry/plugin-users';

const current = definePlugin({
  name: 'current',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['graphql', 'users'],
  register(ctx) {
    const service = ctx.container.get(UsersToken);
    ctx.container.get(GraphqlToken).contribute({
      typeDefs: 'type Me { id: ID! email: String! name: String! roles: [String!]! } extend type Query { me: Me! }',
      resolvers: {
        Query: {
          me: { access: 'authenticated', resolve: (_s, _a, c: GraphqlContext) => service.view(c.principal!.id) },
        },
      },
    });
  },
});

const kernel = await createKernel({
  config: {
    plugins: {
      http: { port: 0, host: '127.0.0.1' },
      metrics: {},
      database: { driver: 'sqlite', dbName: ':memory:', migrateOnStart: true },
      'auth-jwt': { issuer: 'http://bench.local', audience: 'bench' },
      rbac: {},
      audit: {},
      mailer: {
        transport: 'file',
        from: 'bench@example.com',
        baseUrl: 'http://localhost',
        outDir: mkdtempSync(path.join(os.tmpdir(), 'gantry-bench-mail-')),
      },
      users: {},
      graphql: {},
      current: {},
    },
  },
  plugins: [http, metrics, database, authJwt, rbac, audit, mailer, users, graphql, current],
  env: {},
  logger: silentLogger(),
});
kernel.handleSignals();
await kernel.start();
const { user } = await kernel
  .get(UsersToken)
  .ensureAccount({ email: 'bench@example.com', password: 'Correct-Horse-Battery-9', name: 'Bench', roles: ['user'] });
const { accessToken } = await kernel.get(AuthJwtToken).issuePair(user.id);
process.stdout.write(
  `${JSON.stringify({ port: kernel.get(HttpServerToken).address()?.port ?? 0, token: accessToken })}\n`,
);
