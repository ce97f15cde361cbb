// The peer: bare fastify 5 serving the same JSON as the Gantry route (no schema, defaults). Listens on
// PORT when set (a free port otherwise) and prints its port on stdout.
// BENCH_FASTIFY_HEADERS=1 adds what every Gantry response carries by default (a request id and the
// security headers of the http plugin, computed once as Gantry does), to tell their cost from the framework's.
import { randomUUID } from 'node:crypto';
import { securityHeaders } from '@gantry/http';
import Fastify from 'fastify';

const headers = process.env.BENCH_FASTIFY_HEADERS === '1' ? securityHeaders({ hsts: true }) : [];
const app = Fastify({ logger: false });
app.get('/api/v1/hello', async (_req, reply) => {
  if (headers.length) {
    reply.header('x-request-id', randomUUID());
    for (const [name, value] of headers) reply.header(name, value);
  }
  return { hello: 'world' };
});
const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`${new URL(address).port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
