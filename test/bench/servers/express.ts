// The peer: bare express 5 serving the same JSON as the Gantry route. Prints its port on stdout.
import express from 'express';

const app = express();
app.get('/api/v1/hello', (_req, res) => {
  res.json({ hello: 'world' });
});
const server = app.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
