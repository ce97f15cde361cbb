// A Gantry process with the websocket plugin (anonymous connections allowed on a public channel
// "bench") and a route that broadcasts `count` messages to it, each carrying its send time.
// Prints its port on stdout.
import { createKernel, definePlugin, silentLogger } from '@gantry/core';
import { plugin as http, HttpServerToken } from '@gantry/http';
import { plugin as websocket, WebSocketToken } from '@gantry/plugin-websocket';

const bench = definePlugin({
  name: 'bench',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http', 'websocket'],
  register(ctx) {
    const hub = ctx.container.get(WebSocketToken);
    hub.channel({ name: 'bench', access: 'public' });
    ctx.http.post<unknown, { count?: string }, unknown>('/broadcast', { meta: { public: true } }, async (req) => {
      const count = Number(req.query.count ?? 100);
      for (let i = 0; i < count; i++) {
        await hub.publish('bench', { i, sentAt: performance.timeOrigin + performance.now() });
        // Let the sockets write between broadcasts, as a stream of events would.
        await new Promise((r) => setImmediate(r));
      }
      return { ...hub.stats(), rssMb: Math.round(process.memoryUsage().rss / 1048576) };
    });
    ctx.http.get('/stats', { meta: { public: true } }, () => ({
      ...hub.stats(),
      rssMb: Math.round(process.memoryUsage().rss / 1048576),
    }));
  },
});

const kernel = await createKernel({
  config: {
    plugins: {
      http: { port: 0, host: '127.0.0.1' },
      websocket: { anonymous: true, firstMessageAuth: false, maxBufferedBytes: 4 * 1024 * 1024 },
      bench: {},
    },
  },
  plugins: [http, websocket, bench],
  env: {},
  logger: silentLogger(),
});
kernel.handleSignals();
await kernel.start();
process.stdout.write(`${kernel.get(HttpServerToken).address()?.port ?? 0}\n`);
