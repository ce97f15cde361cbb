import { expect } from 'chai';
import {
  CoreErrors,
  EventBusToken,
  KernelInfoToken,
  token,
  type Kernel,
  type LifecycleHook,
  type Plugin,
  type PluginDefinition,
} from '../src/index.js';
import { kernelOf, plugin, rejection, thrown } from './helpers.js';

/** A plugin whose single hook records `start:<name>` / `stop:<name>` in `log`. */
function recording(
  name: string,
  log: string[],
  extra: Partial<PluginDefinition> = {},
  hook: Partial<LifecycleHook> = {},
): Plugin {
  return plugin(name, {
    ...extra,
    register: (ctx) => {
      log.push(`register:${name}`);
      (extra.register as ((c: typeof ctx) => void) | undefined)?.(ctx);
      ctx.lifecycle.hook({
        name: `${name}-hook`,
        start: () => void log.push(`start:${name}`),
        stop: () => void log.push(`stop:${name}`),
        ...hook,
      });
    },
  });
}

const never = (): Promise<void> => new Promise<void>(() => undefined);

describe('lifecycle', () => {
  it('registers and starts in dependency order and stops in exact reverse', async () => {
    const log: string[] = [];
    const DbToken = token<string>('test.lifecycle.Db');
    // Listed in the config in the "wrong" order on purpose.
    const plugins = [
      recording('api', log, { dependsOn: ['http'], requires: [DbToken] }),
      recording('cache', log, { optionalDependsOn: ['db', 'not-enabled'] }),
      recording('db', log, { provides: [DbToken], register: (ctx) => ctx.provide(DbToken, 'db') }),
      recording('http', log),
    ];
    const kernel = await kernelOf(plugins);
    expect(kernel.pluginNames).to.deep.equal(['http', 'db', 'api', 'cache']);
    await kernel.start();
    expect(kernel.get(KernelInfoToken).plugins).to.deep.equal(['http', 'db', 'api', 'cache']);
    await kernel.stop();
    expect(log).to.deep.equal([
      'register:http',
      'register:db',
      'register:api',
      'register:cache',
      'start:http',
      'start:db',
      'start:api',
      'start:cache',
      'stop:cache',
      'stop:api',
      'stop:db',
      'stop:http',
    ]);
  });

  it('on a failing start hook stops only the hooks that started, in reverse, and rethrows naming the plugin and hook', async () => {
    const log: string[] = [];
    const kernel = await kernelOf([
      recording('one', log),
      recording('two', log, { dependsOn: ['one'] }),
      recording(
        'three',
        log,
        { dependsOn: ['two'] },
        {
          start: () => {
            throw new Error('port taken');
          },
        },
      ),
      recording('four', log, { dependsOn: ['three'] }),
    ]);
    const err = await rejection(kernel.start());
    expect(err.code).to.equal('GANTRY_CORE_HOOK_FAILED');
    expect(err.message).to.equal('plugin "three": start hook "three-hook" failed: port taken');
    expect((err.cause as Error).message).to.equal('port taken');
    expect(err.details).to.deep.equal({ plugin: 'three', hook: 'three-hook', phase: 'start' });
    expect(log.filter((l) => !l.startsWith('register'))).to.deep.equal([
      'start:one',
      'start:two',
      'stop:two',
      'stop:one',
    ]);
    // The failed kernel cannot be started again and stop() is harmless.
    expect((await rejection(kernel.start())).code).to.equal('GANTRY_CORE_KERNEL_STATE');
    await kernel.stop();
    expect(log.filter((l) => l.startsWith('stop'))).to.deep.equal(['stop:two', 'stop:one']);
  });

  it('starts serve-phase hooks after every run hook and stops them first', async () => {
    const log: string[] = [];
    const kernel = await kernelOf([
      plugin('http', {
        register: (ctx) => {
          ctx.lifecycle.hook({
            name: 'build',
            start: () => void log.push('start:build'),
            stop: () => void log.push('stop:build'),
          });
          ctx.lifecycle.hook({
            name: 'listen',
            phase: 'serve',
            start: () => void log.push('start:listen'),
            stop: () => void log.push('stop:listen'),
          });
        },
      }),
      recording('db', log, { dependsOn: ['http'] }),
    ]);
    await kernel.start();
    await kernel.stop();
    expect(log).to.deep.equal([
      'register:db',
      'start:build',
      'start:db',
      'start:listen',
      'stop:listen',
      'stop:db',
      'stop:build',
    ]);
  });

  it('start({ serve: false }) runs commands without serve hooks', async () => {
    const log: string[] = [];
    const kernel = await kernelOf([
      plugin('tool', {
        register: (ctx) => {
          ctx.lifecycle.hook({ name: 'listen', phase: 'serve', start: () => void log.push('listen') });
          ctx.command('db:migrate', (args) => {
            log.push(`migrate ${args.join(' ')}`);
            return 3;
          });
        },
      }),
    ]);
    await kernel.start({ serve: false });
    expect(kernel.commandNames()).to.deep.equal(['db:migrate']);
    expect(await kernel.runCommand('db:migrate', ['--to', '5'])).to.equal(3);
    const unknown = await rejection(kernel.runCommand('db:seed'));
    expect(unknown.message).to.equal('unknown command "db:seed" (known: db:migrate)');
    await kernel.stop();
    expect(log).to.deep.equal(['migrate --to 5']);
  });

  it('refuses two plugins registering the same command', async () => {
    const cmd = (name: string): Plugin => plugin(name, { register: (ctx) => ctx.command('seed', () => 0) });
    const kernel = await kernelOf([cmd('a'), cmd('b')]);
    const err = await rejection(kernel.start());
    expect(err.code).to.equal('GANTRY_CORE_REGISTER_FAILED');
    expect(err.message).to.include('command "seed" is registered by "a" and "b"');
  });

  it('times out a start hook with GANTRY_CORE_HOOK_TIMEOUT naming the plugin and the hook', async () => {
    const log: string[] = [];
    const kernel = await kernelOf(
      [recording('first', log), recording('slow', log, { dependsOn: ['first'] }, { start: never, timeoutMs: 30 })],
      { kernel: { hookTimeoutMs: 5_000 } },
    );
    const err = await rejection(kernel.start());
    expect(err.code).to.equal('GANTRY_CORE_HOOK_TIMEOUT');
    expect(err.message).to.equal('plugin "slow": start hook "slow-hook" did not finish within 30 ms');
    expect(err.details).to.deep.equal({ plugin: 'slow', hook: 'slow-hook', phase: 'start' });
    expect(err.fix).to.include('timeoutMs');
    expect(log).to.include('stop:first');
    expect(log).not.to.include('stop:slow');
  });

  it('times out a stop hook and still stops the others, reporting the failure', async () => {
    const log: string[] = [];
    const kernel = await kernelOf([
      recording('first', log),
      recording('stuck', log, { dependsOn: ['first'] }, { stop: never, timeoutMs: 30 }),
    ]);
    await kernel.start();
    const err = await rejection(kernel.stop());
    expect(err.code).to.equal('GANTRY_CORE_HOOK_TIMEOUT');
    expect(err.message).to.equal('plugin "stuck": stop hook "stuck-hook" did not finish within 30 ms');
    expect(log).to.include('stop:first');
  });

  it('reports every failing stop hook together', async () => {
    const boom = (name: string): Plugin =>
      plugin(name, {
        register: (ctx) =>
          ctx.lifecycle.hook({
            name: 'h',
            stop: () => {
              throw new Error(`${name} broke`);
            },
          }),
      });
    const kernel = await kernelOf([boom('x'), boom('y')]);
    await kernel.start();
    const err = await rejection(kernel.stop());
    expect(err.code).to.equal('GANTRY_CORE_HOOK_FAILED');
    expect(err.message).to.include('2 stop hooks failed');
    expect(err.message).to.include('y broke');
    expect(err.message).to.include('x broke');
  });

  it('times out a register() that never finishes, naming the plugin', async () => {
    const kernel = await kernelOf([plugin('hangs', { register: never })], { kernel: { hookTimeoutMs: 30 } });
    const err = await rejection(kernel.start());
    expect(err.code).to.equal('GANTRY_CORE_HOOK_TIMEOUT');
    expect(err.message).to.equal('plugin "hangs": register() did not finish within 30 ms');
    expect(err.details).to.deep.equal({ plugin: 'hangs', phase: 'register' });
  });

  it('wraps a throwing register() in GANTRY_CORE_REGISTER_FAILED with the cause', async () => {
    const kernel = await kernelOf([
      plugin('bad', {
        register: async () => {
          throw new RangeError('no secret');
        },
      }),
    ]);
    const err = await rejection(kernel.start());
    expect(err.code).to.equal('GANTRY_CORE_REGISTER_FAILED');
    expect(err.message).to.equal('plugin "bad": register() failed: no secret');
    expect(err.cause).to.be.instanceOf(RangeError);
  });

  it('records a timeline of register, start and stop with durations', async () => {
    const kernel = await kernelOf([
      plugin('a', {
        register: (ctx) => ctx.lifecycle.hook({ name: 'a-run', start: () => undefined, stop: () => undefined }),
      }),
      plugin('b', {
        dependsOn: ['a'],
        register: (ctx) => ctx.lifecycle.hook({ name: 'b-serve', phase: 'serve', start: () => undefined }),
      }),
    ]);
    await kernel.start();
    const info = kernel.get(KernelInfoToken);
    expect(info.timeline().map((t) => [t.plugin, t.phase, t.hook])).to.deep.equal([
      ['a', 'register', undefined],
      ['b', 'register', undefined],
      ['a', 'start', 'a-run'],
      ['b', 'start', 'b-serve'],
    ]);
    for (const t of info.timeline()) expect(t.ms).to.be.a('number').and.at.least(0);
    await kernel.stop();
    expect(kernel.timeline().map((t) => `${t.plugin}:${t.phase}`)).to.deep.equal([
      'a:register',
      'b:register',
      'a:start',
      'b:start',
      'a:stop',
    ]);
  });

  it('stop() is idempotent, also when called concurrently, and works on a never-started kernel', async () => {
    let stops = 0;
    const kernel = await kernelOf([
      plugin('p', {
        register: (ctx) =>
          ctx.lifecycle.hook({
            name: 'h',
            stop: async () => {
              stops++;
              await new Promise((r) => setTimeout(r, 10));
            },
          }),
      }),
    ]);
    await kernel.start();
    await Promise.all([kernel.stop(), kernel.stop()]);
    await kernel.stop();
    expect(stops).to.equal(1);
    expect((await kernel.health.readiness()).shuttingDown).to.equal(true);

    const unused = await kernelOf([plugin('q')]);
    await unused.stop();
    expect((await rejection(unused.start())).code).to.equal('GANTRY_CORE_KERNEL_STATE');
  });

  it('supports `await using` to stop at the end of a scope; a stopped kernel resolves nothing', async () => {
    const log: string[] = [];
    let outside: Kernel | undefined;
    {
      await using kernel = await kernelOf([recording('scoped', log)]);
      await kernel.start();
      outside = kernel;
      expect(kernel.get(KernelInfoToken).plugins).to.deep.equal(['scoped']);
    }
    expect(log).to.deep.equal(['register:scoped', 'start:scoped', 'stop:scoped']);
    const err = thrown(() => outside!.get(KernelInfoToken));
    expect(err.code).to.equal('GANTRY_CORE_KERNEL_STATE');
    expect(err.message).to.equal('kernel: cannot resolve token "gantry.core.KernelInfo": the kernel has stopped');
  });

  it('refuses ctx.provide of a token the plugin did not declare', async () => {
    const Undeclared = token<number>('test.lifecycle.Undeclared');
    const kernel = await kernelOf([plugin('sneaky', { register: (ctx) => ctx.provide(Undeclared, 1) })]);
    const err = await rejection(kernel.start());
    expect(err.code).to.equal('GANTRY_CORE_REGISTER_FAILED');
    const cause = err.cause as { code?: string; message?: string };
    expect(cause.code).to.equal('GANTRY_CORE_TOKEN_NOT_PROVIDED');
    expect(cause.message).to.equal('plugin "sneaky" provides "test.lifecycle.Undeclared" without declaring it');
  });

  it('refuses a plugin that declares a token in provides but never binds it', async () => {
    const Promised = token<number>('test.lifecycle.Promised');
    const kernel = await kernelOf([plugin('forgetful', { provides: [Promised] })]);
    const err = await rejection(kernel.start());
    expect(err.code).to.equal('GANTRY_CORE_REGISTER_FAILED');
    expect(err.message).to.equal(
      'plugin "forgetful" declares it provides "test.lifecycle.Promised" but register() did not bind it',
    );
    expect(err.fix).to.equal('call ctx.provide(test.lifecycle.Promised, value) in register()');
  });

  it('refuses lifecycle hooks declared after register()', async () => {
    const kernel = await kernelOf([
      plugin('late', {
        register: (ctx) =>
          ctx.lifecycle.hook({
            name: 'first',
            start: () => ctx.lifecycle.hook({ name: 'second', start: () => undefined }),
          }),
      }),
    ]);
    const err = await rejection(kernel.start());
    expect(err.code).to.equal('GANTRY_CORE_HOOK_FAILED');
    expect((err.cause as { code?: string }).code).to.equal(CoreErrors.KERNEL_STATE.code);
    expect(err.message).to.include('lifecycle.hook("second") called after register()');
  });

  it('refuses ctx.http without an http transport', async () => {
    const kernel = await kernelOf([plugin('web', { register: (ctx) => void ctx.http })]);
    const err = await rejection(kernel.start());
    expect((err.cause as { code?: string }).code).to.equal('GANTRY_CORE_HTTP_UNAVAILABLE');
    expect(err.message).to.include('plugin "web" uses ctx.http but no HTTP transport is enabled');
  });

  it('delivers events between plugins and isolates a failing handler', async () => {
    const got: string[] = [];
    const kernel = await kernelOf([
      plugin('sub', {
        register: (ctx) => {
          ctx.events.subscribe<string>('user.created', () => {
            throw new Error('handler bug');
          });
          ctx.events.subscribe<string>('user.created', (e) => void got.push(`sub:${e.payload}`));
        },
      }),
      plugin('pub', {
        dependsOn: ['sub'],
        register: (ctx) =>
          ctx.lifecycle.hook({
            name: 'emit',
            start: () => ctx.events.publish({ topic: 'user.created', payload: 'ada' }),
          }),
      }),
    ]);
    await kernel.start();
    await kernel.get(EventBusToken).publish({ topic: 'user.created', payload: 'bob' });
    await kernel.get(EventBusToken).publish({ topic: 'nobody.listens', payload: 1 });
    await kernel.stop();
    expect(got).to.deep.equal(['sub:ada', 'sub:bob']);
  });

  it('stop() during a slow start lets the hook in progress finish, starts nothing after it and stops in reverse', async () => {
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const kernel = await kernelOf([
      recording('early', log),
      recording(
        'slow',
        log,
        { dependsOn: ['early'] },
        {
          start: async () => {
            log.push('start:slow');
            await gate;
          },
        },
      ),
      recording('late', log, { dependsOn: ['slow'] }),
    ]);
    const starting = kernel.start();
    await new Promise((r) => setTimeout(r, 10));
    const stopping = kernel.stop();
    release();
    await stopping;
    const err = await rejection(starting);
    expect(err.code).to.equal('GANTRY_CORE_KERNEL_STATE');
    expect(log.filter((l) => !l.startsWith('register'))).to.deep.equal([
      'start:early',
      'start:slow',
      'stop:slow',
      'stop:early',
    ]);
    expect(log).not.to.include('start:late');
  });
});
