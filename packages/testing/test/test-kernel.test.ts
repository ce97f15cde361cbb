import { definePlugin, KernelInfoToken, token, type Plugin } from '@gantry/core';
import { plugin as httpPlugin, HttpServerToken } from '@gantry/http';
import { expect } from 'chai';
import { z } from 'zod';
import { createTestKernel } from '../src/index.js';

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
