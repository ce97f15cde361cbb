// The peer: bare express 5 serving the same JSON as the Gantry route. Listens on PORT when set (a free
// port otherwise) and prints its port on stdout.
import express from 'express';

const app = express();
// BENCH_EXPRESS_ETAG=0 turns off the weak ETag bare express computes for every response by default
// (Gantry's http plugin has it off by default), so the comparison can be made both ways.
if (process.env.BENCH_EXPRESS_ETAG === '0') app.set('etag', false);
app.get('/api/v1/hello', (_req, res) => {
  res.json({ hello: 'world' });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
