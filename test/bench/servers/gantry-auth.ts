// Gantry's "full stack" route: kernel + http (helmet headers) + metrics (duration histogram) + redis +
// rate-limit (per IP, counted in Redis) + database (SQLite in memory, for rbac) + auth-jwt (ES256
// bearer, revocation lookup in Redis, verified-token cache unless BENCH_TOKEN_CACHE=0, revocation cache
// unless BENCH_REVOCATION_CACHE=0) + rbac (role →
// permission) + one route that needs `notes:read` and writes one log line (pino, async, /dev/null).
// On express, or on the fastify engine with BENCH_ENGINE=fastify.
// Tokens come from the bench runner's key (env, see full-common.ts). Prints `{"port":…}` on stdout.
import { createKernel, definePlugin } from '@gantry/core';
import { plugin as http, HttpServerToken } from '@gantry/http';
import { plugin as authJwt } from '@gantry/plugin-auth-jwt';
import { plugin as database } from '@gantry/plugin-database';
import { plugin as metrics } from '@gantry/plugin-metrics';
import { plugin as rateLimit } from '@gantry/plugin-rate-limit';
import { plugin as rbac, RbacToken, requires } from '@gantry/plugin-rbac';
import { plugin as redis } from '@gantry/plugin-redis';
import { AUDIENCE, body, discardLogger, ISSUER, PERMISSION, RATE_LIMIT, settings } from './full-common.js';

const secure = definePlugin({
  name: 'secure',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http', 'rbac'],
  register(ctx) {
    ctx.http.get(
      '/secure',
      { summary: 'Benchmark route behind a bearer token and a permission', meta: { ...requires(PERMISSION) } },
      (req) => {
        const subject = req.context.principal!.id;
        req.context.logger.info({ subject }, 'secure read');
        return body(subject);
      },
    );
  },
});

const prefix = settings.prefix();
const kernel = await createKernel({
  profile: 'compose',
  config: {
    plugins: {
      http: { port: settings.port(), host: '127.0.0.1', engine: settings.engine() },
      metrics: {},
      redis: { url: settings.redisUrl() },
      'rate-limit': { store: 'redis', prefix: `${prefix}rl:`, default: { ...RATE_LIMIT } },
      database: { driver: 'sqlite', dbName: ':memory:', migrateOnStart: true },
      'auth-jwt': {
        issuer: ISSUER,
        audience: AUDIENCE,
        store: 'redis',
        prefix: `${prefix}jwt:`,
        keys: [{ kid: settings.kid(), privateKey: settings.privatePem() }],
        tokenCache: { enabled: settings.tokenCache() },
        revocationCache: { enabled: process.env.BENCH_REVOCATION_CACHE !== '0' },
      },
      rbac: { roles: { reader: { description: 'reads notes', permissions: [PERMISSION] } } },
      secure: {},
    },
  },
  plugins: [http, metrics, redis, rateLimit, database, authJwt, rbac, secure],
  env: {},
  logger: discardLogger(),
});
kernel.handleSignals();
await kernel.start();
await kernel.get(RbacToken).grant('bench-user', 'reader');
process.stdout.write(`${JSON.stringify({ port: kernel.get(HttpServerToken).address()?.port ?? 0 })}\n`);
