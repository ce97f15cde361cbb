// The Fastify 5 peer of gantry-auth: @fastify/helmet (Gantry's helmet options), @fastify/rate-limit
// counting per IP in Redis, an ES256 bearer checked with jose (key imported once), the revocation
// lookup in Redis, a permission from the subject's roles, a prom-client duration histogram and one
// log line (pino, async, /dev/null). Prints `{"port":…}` on stdout.
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { type CryptoKey, jwtVerify, type JWTHeaderParameters, type JWTPayload } from 'jose';
import {
  allowed,
  body,
  discardLogger,
  durationHistogram,
  HELMET_OPTIONS,
  PERMISSION,
  RATE_LIMIT,
  redis,
  revoked,
  ROUTE,
  settings,
  VERIFY_OPTIONS,
  verificationKey,
} from './full-common.js';

const { kid, key } = await verificationKey();
const getKey = (header: JWTHeaderParameters): CryptoKey => {
  if (header.kid !== kid) throw new Error('unknown kid');
  return key;
};
const prefix = settings.prefix();
const client = redis();
const histogram = durationHistogram();

const app = Fastify({
  loggerInstance: discardLogger(),
  // The one log line is the route's own, as in the other servers: no "incoming request"/"request completed" lines.
  logController: new LogController({ disableRequestLogging: true }),
});
await app.register(fastifyHelmet, { ...HELMET_OPTIONS, global: true });
await app.register(fastifyRateLimit, {
  global: true,
  max: RATE_LIMIT.limit,
  timeWindow: RATE_LIMIT.windowMs,
  redis: client,
  nameSpace: `${prefix}rl:`,
});
app.addHook('onRequest', (_req, reply, done) => {
  reply.header('cache-control', 'no-store');
  done();
});
app.addHook('onResponse', (req, reply, done) => {
  histogram.observe(
    { method: req.method, route: req.routeOptions.url ?? 'unmatched', status_code: reply.statusCode },
    reply.elapsedTime / 1000,
  );
  done();
});

async function authenticate(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const header = req.headers.authorization;
  if (header === undefined || !header.startsWith('Bearer ')) return reply.code(401).send({ error: 'unauthenticated' });
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(header.slice(7), getKey, VERIFY_OPTIONS));
  } catch {
    return reply.code(401).send({ error: 'unauthenticated' });
  }
  const sub = payload.sub!;
  if (await revoked(client, prefix, sub, payload.fid, payload.iat!)) return reply.code(401).send({ error: 'revoked' });
  if (!allowed(sub, PERMISSION)) return reply.code(403).send({ error: 'forbidden' });
  (req as FastifyRequest & { subject?: string }).subject = sub;
  return undefined;
}

app.get(ROUTE, { preHandler: authenticate }, async (req) => {
  const subject = (req as FastifyRequest & { subject?: string }).subject!;
  req.log.info({ subject }, 'secure read');
  return body(subject);
});

const address = await app.listen({ port: settings.port(), host: '127.0.0.1' });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(address).port) })}\n`);
process.on('SIGTERM', () => {
  void app.close().then(() => {
    client.disconnect();
    process.exit(0);
  });
});
