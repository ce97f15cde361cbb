// The sandbox's minimal stack: kernel + http + metrics + one JSON route. Prints its port on stdout.
// BENCH_HTTP_ENGINE=fastify serves it on the http plugin's fastify engine (default: express).
import { createKernel, definePlugin, silentLogger } from '@gantry/core';
import { plugin as http, HttpServerToken } from '@gantry/http';
import { plugin as metrics } from '@gantry/plugin-metrics';

const hello = definePlugin({
  name: 'hello',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.get('/hello', { summary: 'Benchmark route' }, () => ({ hello: 'world' }));
    ctx.health.check(() => ({ status: 'up' }));
  },
});

const kernel = await createKernel({
  config: {
    plugins: {
      http: { port: 0, host: '127.0.0.1', engine: process.env.BENCH_HTTP_ENGINE ?? 'express' },
      metrics: {},
      hello: {},
    },
  },
  plugins: [http, metrics, hello],
  env: {},
  logger: silentLogger(),
});
kernel.handleSignals();
await kernel.start();
process.stdout.write(`${kernel.get(HttpServerToken).address()?.port ?? 0}\n`);
