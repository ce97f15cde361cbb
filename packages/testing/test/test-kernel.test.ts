import { definePlugin, KernelInfoToken, token, type Plugin } from '@gantry/core';
import { plugin as httpPlugin, HttpServerToken } from '@gantry/http';
import { expect } from 'chai';
import { z } from 'zod';
import { instance, mock, verify, when } from 'ts-mockito';
import { createTestKernel, replacing } from '../src/index.js';

const Greeting = token<string>('test.testing.Greeting');

/** A plugin with a route, an option, a provided token and a stop hook counting its calls. */
function hello(stops: { count: number } = { count: 0 }): Plugin {
  return definePlugin({
    name: 'hello',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http'],
    provides: [Greeting],
    config: z.object({ greeting: z.string().default('hi').describe('word') }),
    register(ctx) {
      ctx.provide(Greeting, ctx.config.greeting);
      ctx.http.post(
        '/hello/:name',
        { schema: { params: z.object({ name: z.string() }), body: z.object({ punctuation: z.string() }) } },
        (req) => ({
          text: `${ctx.config.greeting} ${req.params.name}${req.body.punctuation}`,
        }),
      );
      ctx.lifecycle.hook({ name: 'count-stops', stop: () => void stops.count++ });
    },
  });
}

describe('createTestKernel', () => {
  it('returns a started kernel; `await using` stops it at the end of the scope', async () => {
    const stops = { count: 0 };
    let kernelRef: { health: { readiness(): Promise<{ status: string }> } } | undefined;
    {
      await using tk = await createTestKernel({
        plugins: [httpPlugin, hello(stops)],
        config: { hello: { greeting: 'hey' } },
      });
      kernelRef = tk.kernel;
      expect(tk.get(Greeting)).to.equal('hey');
      expect((await tk.kernel.health.readiness()).status).to.equal('ready');
      expect(stops.count).to.equal(0);
    }
    expect(stops.count).to.equal(1);
    expect((await kernelRef!.health.readiness()).status).to.equal('not_ready');
  });

  it('inject() sends a request through the whole HTTP stack without a socket', async () => {
    await using tk = await createTestKernel({ plugins: [httpPlugin, hello()] });
    const res = await tk.inject({ method: 'POST', url: '/api/v1/hello/ada', payload: { punctuation: '!' } });
    expect(res.statusCode).to.equal(200);
    expect(res.json()).to.deep.equal({ text: 'hi ada!' });
    expect(res.headers['x-content-type-options']).to.equal('nosniff');
    const bad = await tk.inject({ method: 'POST', url: '/api/v1/hello/ada', payload: {} });
    expect(bad.statusCode).to.equal(400);
    // http does not listen by default: url() explains how to make it listen.
    expect(tk.get(HttpServerToken).address()).to.equal(undefined);
    expect(() => tk.url()).to.throw(
      'the http plugin is not listening: pass config { http: { listen: true, port: 0 } }',
    );
  });

  it('url() gives the address when http listens, and inject() does not break real sockets', async () => {
    await using tk = await createTestKernel({
      plugins: [httpPlugin, hello()],
      config: { http: { listen: true, port: 0, host: '127.0.0.1' } },
    });
    // An in-process request first: it must leave express usable for real connections.
    expect(
      (await tk.inject({ method: 'POST', url: '/api/v1/hello/in', payload: { punctuation: '.' } })).json(),
    ).to.deep.equal({ text: 'hi in.' });
    const url = tk.url();
    expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${url}/api/v1/hello/net`, {
      method: 'POST',
      body: JSON.stringify({ punctuation: '?' }),
      headers: { 'content-type': 'application/json', connection: 'close' },
    });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ text: 'hi net?' });
  });

  it('ignores the shell environment unless env is given', async () => {
    process.env.GANTRY_HELLO__GREETING = 'from-shell';
    try {
      await using isolated = await createTestKernel({ plugins: [httpPlugin, hello()] });
      expect(isolated.get(Greeting)).to.equal('hi');
      await using withEnv = await createTestKernel({
        plugins: [httpPlugin, hello()],
        env: { GANTRY_HELLO__GREETING: 'from-env' },
      });
      expect(withEnv.get(Greeting)).to.equal('from-env');
    } finally {
      delete process.env.GANTRY_HELLO__GREETING;
    }
  });

  it('start: false builds without starting; plugins may be given as specifiers', async () => {
    const tk = await createTestKernel({ plugins: ['http', hello()], start: false });
    try {
      expect(tk.kernel.pluginNames).to.deep.equal(['http', 'hello']);
      expect(tk.kernel.timeline()).to.deep.equal([]);
      await tk.start();
      expect(tk.get(KernelInfoToken).timeline().length).to.be.greaterThan(0);
      expect((await tk.inject('/healthz')).statusCode).to.equal(200);
    } finally {
      await tk.stop();
    }
  });

  it('reports setup problems as GANTRY_CORE_BOOT_INVALID', async () => {
    try {
      await createTestKernel({ plugins: [hello()] });
      expect.fail('must not build');
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('GANTRY_CORE_BOOT_INVALID');
      expect((err as Error).message).to.include('plugin "hello" depends on "http", which is not enabled');
    }
  });
});

describe('createTestKernel({ replace }): a provided token replaced by a ts-mockito mock', () => {
  /** What the `clock` plugin provides. */
  interface Clock {
    now(): number;
  }
  const ClockToken = token<Clock>('test.testing.Clock');
  const clockPlugin = definePlugin({
    name: 'clock',
    version: '0.1.0',
    kernel: '^0.1.0',
    provides: [ClockToken],
    register: (ctx) => ctx.provide(ClockToken, { now: () => Date.now() }),
  });
  /** Resolves the clock in register() (as most consumers do) and answers with its time. */
  const timePlugin = definePlugin({
    name: 'time',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http', 'clock'],
    requires: [ClockToken],
    register(ctx) {
      const clock = ctx.container.get(ClockToken);
      ctx.http.get('/time', { meta: { public: true } }, () => ({ now: clock.now() }));
    },
  });

  it('hands every consumer the mock, and verify() sees the calls', async () => {
    const clock = mock<Clock>();
    when(clock.now()).thenReturn(42);
    await using tk = await createTestKernel({
      plugins: [httpPlugin, clockPlugin, timePlugin],
      replace: [replacing(ClockToken, instance(clock))],
    });
    const res = await tk.inject('/api/v1/time');
    expect(res.json()).to.deep.equal({ now: 42 });
    verify(clock.now()).once();
    // Awaiting the mock (or returning it from an async function) settles: its `then` is hidden.
    expect(await Promise.resolve(tk.get(ClockToken))).to.equal(tk.get(ClockToken));
  });

  it('refuses a token no enabled plugin provides, naming it (a typo cannot leave the real service in place)', async () => {
    const Elsewhere = token<Clock>('test.testing.Elsewhere');
    const err = await createTestKernel({
      plugins: [httpPlugin, clockPlugin, timePlugin],
      replace: [[Elsewhere, instance(mock<Clock>())]],
    }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string },
    );
    expect(err?.code).to.equal('GANTRY_TESTING_REPLACE_UNPROVIDED');
    expect(err?.message).to.contain('test.testing.Elsewhere');
  });

  it('resolves plugins given as specifiers to know what they provide', async () => {
    const clock = mock<Clock>();
    when(clock.now()).thenReturn(7);
    await using tk = await createTestKernel({
      plugins: ['http', clockPlugin, timePlugin],
      replace: [[ClockToken, instance(clock)]],
    });
    expect((await tk.inject('/api/v1/time')).json()).to.deep.equal({ now: 7 });
  });
});
