// The peer: bare fastify 5 serving the same JSON as the Gantry route (no schema, defaults). Prints its port on stdout.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.get('/api/v1/hello', async () => ({ hello: 'world' }));
const address = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`${new URL(address).port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
