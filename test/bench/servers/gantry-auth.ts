// Gantry's authenticated route: kernel + http + metrics + database (SQLite in memory) + auth-jwt
// (bearer guard, revocation store in memory) + rbac (per-request role check) + one route that needs
// `notes:read`. Prints `{"port":…,"token":"…"}` on stdout: the access token of a subject holding it.
import { createKernel, definePlugin, silentLogger } from '@gantry/core';
import { plugin as http, HttpServerToken } from '@gantry/http';
import { AuthJwtToken, plugin as authJwt } from '@gantry/plugin-auth-jwt';
import { plugin as database } from '@gantry/plugin-database';
import { plugin as metrics } from '@gantry/plugin-metrics';
import { plugin as rbac, RbacToken, requires } from '@gantry/plugin-rbac';

const secure = definePlugin({
  name: 'secure',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http', 'rbac'],
  register(ctx) {
    ctx.http.get(
      '/secure',
      {
        summary: 'Benchmark route behind a bearer token and a permission',
        meta: { ...requires('notes:read'), auth: 'bearer' },
      },
      (req) => ({ subject: req.context.principal?.id }),
    );
    ctx.health.check(() => ({ status: 'up' }));
  },
});

const kernel = await createKernel({
  config: {
    plugins: {
      http: { port: 0, host: '127.0.0.1' },
      metrics: {},
      database: { driver: 'sqlite', dbName: ':memory:', migrateOnStart: true },
      'auth-jwt': { issuer: 'http://bench.local', audience: 'bench' },
      rbac: { roles: { reader: { description: 'reads notes', permissions: ['notes:read'] } } },
      secure: {},
    },
  },
  plugins: [http, metrics, database, authJwt, rbac, secure],
  env: {},
  logger: silentLogger(),
});
kernel.handleSignals();
await kernel.start();
await kernel.get(RbacToken).grant('bench-user', 'reader');
const { accessToken } = await kernel.get(AuthJwtToken).issuePair('bench-user');
process.stdout.write(
  `${JSON.stringify({ port: kernel.get(HttpServerToken).address()?.port ?? 0, token: accessToken })}\n`,
);
