import { definePlugin, type Plugin, type PluginDefinition } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { expect } from 'chai';
import net from 'node:net';
import { z } from 'zod';
import { checkConformance, type ConformanceResult } from '../src/index.js';

function make(name: string, extra: Partial<PluginDefinition> = {}): Plugin {
  return definePlugin({
    name,
    version: '0.1.0',
    kernel: '^0.1.0',
    register: (ctx) => ctx.health.check(() => ({ status: 'up' })),
    ...extra,
  } as PluginDefinition);
}

function byCheck(results: readonly ConformanceResult[]): Record<string, ConformanceResult> {
  return Object.fromEntries(results.map((r) => [r.check, r]));
}

/** The message for `what` (`1 Timeout`) left open, created in this file. */
function leakAt(what: string): RegExp {
  return new RegExp(`^still open after stop: ${what} created at \\S*conformance\\.test\\.js:\\d+:\\d+$`);
}

function failed(results: readonly ConformanceResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => r.check);
}

describe('checkConformance', () => {
  it('passes a well-behaved plugin on every check', async () => {
    const good = make('good', {
      dependsOn: ['http'],
      config: z.object({ ttlMs: z.number().default(1_000).describe('How long entries live') }),
      register: (ctx) => {
        let timer: NodeJS.Timeout | undefined;
        ctx.http.get('/good', {}, () => ({ ok: true }));
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({
          name: 'sweeper',
          start: () => void (timer = setInterval(() => undefined, 1_000)),
          stop: () => clearInterval(timer),
        });
      },
    });
    const results = await checkConformance({ plugin: good, with: [httpPlugin], config: { good: { ttlMs: 5 } } });
    expect(failed(results), JSON.stringify(results, null, 2)).to.deep.equal([]);
    expect(results.map((r) => r.check)).to.deep.equal([
      'metadata',
      'kernel-range',
      'config-documented',
      'boots',
      'health-check',
      'ready',
      'isolated',
      'stops',
      'no-leaked-handles',
      'no-global-state',
    ]);
  });

  it('fails `health-check` for a plugin without a readiness check', async () => {
    const results = await checkConformance({ plugin: make('silent', { register: () => undefined }) });
    expect(failed(results)).to.deep.equal(['health-check']);
    expect(byCheck(results)['health-check']!.message).to.equal(
      'registers no readiness check: call ctx.health.check(...) in register()',
    );
  });

  it('fails `ready` for a plugin whose check is down after start', async () => {
    const results = await checkConformance({
      plugin: make('downer', {
        register: (ctx) =>
          ctx.health.check(
            () => {
              throw new Error('no upstream');
            },
            { name: 'upstream' },
          ),
      }),
    });
    expect(failed(results)).to.deep.equal(['ready']);
    expect(byCheck(results).ready!.message).to.equal('checks down after start: downer:upstream (no upstream)');
  });

  it('fails `no-leaked-handles` for a plugin that leaves a setInterval running', async () => {
    // One per kernel the check builds (the first and the `isolated` one).
    const leaked: NodeJS.Timeout[] = [];
    const leaky = make('leaky', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({ name: 'poll', start: () => void leaked.push(setInterval(() => undefined, 60_000)) });
      },
    });
    try {
      const results = await checkConformance({ plugin: leaky });
      expect(failed(results)).to.deep.equal(['no-leaked-handles']);
      expect(leaked).to.have.length(2);
      expect(byCheck(results)['no-leaked-handles']!.message).to.match(leakAt('2 Timeout'));
    } finally {
      for (const t of leaked) clearInterval(t);
    }
  });

  it('counts a single leaked timer too', async () => {
    const leaked: NodeJS.Timeout[] = [];
    const once = make('leaks-once', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        // Only the first kernel of the check leaks.
        ctx.lifecycle.hook({
          name: 'poll',
          start: () => void (leaked.length === 0 && leaked.push(setTimeout(() => undefined, 60_000))),
        });
      },
    });
    try {
      const results = await checkConformance({ plugin: once });
      expect(failed(results)).to.deep.equal(['no-leaked-handles']);
      expect(byCheck(results)['no-leaked-handles']!.message).to.match(leakAt('1 Timeout'));
    } finally {
      for (const t of leaked) clearTimeout(t);
    }
  });

  it("counts an unref'd interval left running: it does not hold the process up, but still fires", async () => {
    const leaked: NodeJS.Timeout[] = [];
    const unrefd = make('unrefd', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        const poll = (): NodeJS.Timeout => setInterval(() => undefined, 60_000).unref();
        ctx.lifecycle.hook({ name: 'poll', start: () => void (leaked.length === 0 && leaked.push(poll())) });
      },
    });
    try {
      const results = await checkConformance({ plugin: unrefd });
      expect(failed(results)).to.deep.equal(['no-leaked-handles']);
      expect(byCheck(results)['no-leaked-handles']!.message).to.match(leakAt('1 Timeout'));
    } finally {
      for (const t of leaked) clearInterval(t);
    }
  });

  it('catches a leaked interval even while an unrelated interval ends during the check', async () => {
    // Counting handles by type sees one Timeout come and one go, and finds nothing.
    const unrelated = setInterval(() => undefined, 60_000);
    const started = signal();
    const leaked: NodeJS.Timeout[] = [];
    const leaky = make('masked-leak', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({
          name: 'poll',
          start: () => {
            // Only the first kernel of the check leaks, as many Timeouts as the bystander clears.
            if (leaked.length === 0) leaked.push(setInterval(() => undefined, 60_000));
            started.resolve();
          },
        });
      },
    });
    try {
      const bystander = started.promise.then(() => clearInterval(unrelated));
      const [results] = await Promise.all([checkConformance({ plugin: leaky }), bystander]);
      expect(failed(results)).to.deep.equal(['no-leaked-handles']);
      expect(byCheck(results)['no-leaked-handles']!.message).to.match(leakAt('1 Timeout'));
    } finally {
      clearInterval(unrelated);
      for (const t of leaked) clearInterval(t);
    }
  });

  it('catches a leaked server even while an unrelated server closes during the check', async () => {
    const unrelated = await listening(net.createServer());
    const started = signal();
    const servers: net.Server[] = [];
    const leaky = make('server-leak', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({
          name: 'listen',
          start: async () => {
            if (servers.length === 0) servers.push(await listening(net.createServer()));
            started.resolve();
          },
        });
      },
    });
    try {
      const bystander = started.promise.then(() => new Promise((resolve) => unrelated.close(resolve)));
      const [results] = await Promise.all([checkConformance({ plugin: leaky }), bystander]);
      expect(failed(results)).to.deep.equal(['no-leaked-handles']);
      expect(byCheck(results)['no-leaked-handles']!.message).to.match(leakAt('1 TCPSERVERWRAP'));
    } finally {
      if (unrelated.listening) unrelated.close();
      for (const s of servers) s.close();
    }
  });

  it('passes a clean plugin while unrelated timers, servers and process listeners change during the check', async () => {
    const started = signal();
    const clean = make('clean-beside-noise', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({ name: 'signal', start: () => started.resolve() });
      },
    });
    // Opened by the test, not the plugin, after the check has begun, and closed only after it ends.
    let timer: NodeJS.Timeout | undefined;
    let server: net.Server | undefined;
    // Another test's kernel finishing its shutdown removes its signal listener; another one adds one.
    const otherKernels = [(): void => undefined, (): void => undefined] as const;
    process.on('SIGINT', otherKernels[0]);
    const bystander = started.promise.then(async () => {
      timer = setInterval(() => undefined, 60_000);
      process.off('SIGINT', otherKernels[0]);
      process.on('SIGTERM', otherKernels[1]);
      server = await listening(net.createServer());
    });
    try {
      const [results] = await Promise.all([checkConformance({ plugin: clean }), bystander]);
      expect(failed(results), JSON.stringify(results, null, 2)).to.deep.equal([]);
      expect(byCheck(results)['no-leaked-handles']!.message).to.equal('no handle left open');
    } finally {
      clearInterval(timer);
      server?.close();
      process.off('SIGINT', otherKernels[0]);
      process.off('SIGTERM', otherKernels[1]);
    }
  });

  it('lets handles the plugin closes in stop finish closing after stop returns', async () => {
    // stop() calls close() without waiting: the server and the socket close on the following turns of the loop.
    const servers: net.Server[] = [];
    const closesLate = make('closes-late', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        let server: net.Server | undefined;
        let client: net.Socket | undefined;
        ctx.lifecycle.hook({
          name: 'listen',
          start: async () => {
            server = await listening(net.createServer((socket) => socket.on('error', () => undefined)));
            servers.push(server);
            client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
            await new Promise((resolve) => client!.once('connect', resolve));
          },
          stop: () => {
            client!.destroy();
            server!.close();
          },
        });
      },
    });
    try {
      const results = await checkConformance({ plugin: closesLate });
      expect(failed(results), JSON.stringify(results, null, 2)).to.deep.equal([]);
    } finally {
      for (const s of servers) if (s.listening) s.close();
    }
  });

  it("counts a connection the plugin's server accepted from someone else and never closed", async () => {
    // Node creates an accepted socket outside any async context: it is the plugin's through its server.
    const accepted: net.Socket[] = [];
    let client: net.Socket | undefined;
    let port: (p: number) => void = () => undefined;
    const listeningOn = new Promise<number>((resolve) => (port = resolve));
    const keepsConnections = make('keeps-connections', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        let server: net.Server | undefined;
        ctx.lifecycle.hook({
          name: 'listen',
          start: async () => {
            if (accepted.length > 0) return; // the second kernel of the check stays clean
            // Half-open: the client going away does not close the accepted side.
            server = await listening(net.createServer({ allowHalfOpen: true }, (socket) => void accepted.push(socket)));
            const connected = new Promise((resolve) => server!.once('connection', resolve));
            port((server.address() as net.AddressInfo).port);
            await connected;
          },
          // Closes the listening socket, not the connection it accepted.
          stop: () => void server?.close(),
        });
      },
    });
    // The test connects, in its own context.
    const connecting = listeningOn.then((p) => void (client = net.connect(p, '127.0.0.1')));
    try {
      const [results] = await Promise.all([checkConformance({ plugin: keepsConnections }), connecting]);
      expect(failed(results)).to.deep.equal(['no-leaked-handles']);
      expect(byCheck(results)['no-leaked-handles']!.message).to.match(leakAt('1 TCPWRAP'));
    } finally {
      for (const s of [...accepted, client]) s?.destroy();
    }
  });

  it('fails `no-global-state` for a plugin that adds a process listener or a global', async () => {
    const onSignal = (): void => undefined;
    const listener = make('listener', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({ name: 'signals', start: () => void process.on('SIGTERM', onSignal) });
      },
    });
    const globalKey = '__conformanceTestLeak';
    const polluter = make('polluter', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        (globalThis as Record<string, unknown>)[globalKey] = ctx.name;
      },
    });
    try {
      const results = await checkConformance({ plugin: listener });
      expect(failed(results)).to.deep.equal(['no-global-state']);
      expect(byCheck(results)['no-global-state']!.message).to.equal('process listeners changed: SIGTERM');
      const globals = await checkConformance({ plugin: polluter });
      expect(failed(globals)).to.deep.equal(['no-global-state']);
      expect(byCheck(globals)['no-global-state']!.message).to.equal(`new globals: ${globalKey}`);
    } finally {
      // Both kernels of the check (first and `isolated`) added it.
      while (process.listeners('SIGTERM').includes(onSignal)) process.off('SIGTERM', onSignal);
      delete (globalThis as Record<string, unknown>)[globalKey];
    }
  });

  it('reports `boots` false for a plugin that hangs in start, and stops there', async () => {
    let released = false;
    const hangs = make('hangs', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({
          name: 'connect',
          start: () => new Promise<void>(() => undefined),
          stop: () => void (released = true),
        });
      },
    });
    const results = await checkConformance({ plugin: hangs, bootTimeoutMs: 100 });
    const boots = byCheck(results).boots!;
    expect(boots.ok).to.equal(false);
    expect(boots.message).to.match(/did not (boot|finish) within 100 ms/);
    expect(results.map((r) => r.check)).to.deep.equal(['metadata', 'kernel-range', 'config-documented', 'boots']);
    expect(released).to.equal(false);
  });

  it('fails `isolated` for a plugin keeping state in module scope', async () => {
    let running = 0;
    const singleton = make('singleton', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({
          name: 'claim',
          start: () => {
            if (running > 0) throw new Error('already running in this process');
            running++;
          },
          stop: () => void running--,
        });
      },
    });
    const results = await checkConformance({ plugin: singleton });
    expect(failed(results)).to.deep.equal(['isolated']);
    expect(byCheck(results).isolated!.message).to.include('already running in this process');
  });

  it('fails `config-documented` for options without .describe() and a non-object schema', async () => {
    const undocumented = make('undocumented', {
      config: z.object({ a: z.string().default('x'), b: z.number().default(1).describe('b') }),
    });
    const results = await checkConformance({ plugin: undocumented });
    expect(failed(results)).to.deep.equal(['config-documented']);
    expect(byCheck(results)['config-documented']!.message).to.equal('options without .describe(): a');
  });

  it('reports a plugin that fails to boot with the kernel’s reason', async () => {
    const broken = make('broken', {
      register: () => {
        throw new Error('missing secret');
      },
    });
    const results = await checkConformance({ plugin: broken });
    expect(byCheck(results).boots).to.deep.include({ ok: false });
    expect(byCheck(results).boots!.message).to.equal('plugin "broken": register() failed: missing secret');
  });
});

/** Resolves once `server` listens on a free loopback port. */
function listening(server: net.Server): Promise<net.Server> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** A promise and the function that resolves it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
