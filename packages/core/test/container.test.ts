import 'reflect-metadata';
import { expect } from 'chai';
import { container as tsyringeGlobal, inject, injectable } from 'tsyringe';
import { z } from 'zod';
import { TsyringeContainer, token, type Container } from '../src/index.js';
import { kernelOf, plugin, rejection, thrown } from './helpers.js';

const Clock = token<{ now(): number }>('test.di.Clock');
const Greeting = token<string>('test.di.Greeting');

@injectable()
class FixedClock {
  now(): number {
    return 42;
  }
}

@injectable()
class Greeter {
  constructor(
    @inject(Greeting) readonly greeting: string,
    @inject(Clock) readonly clock: { now(): number },
  ) {}
  greet(who: string): string {
    return `${this.greeting}, ${who} @${this.clock.now()}`;
  }
}

/** Its parameter is injected from emitDecoratorMetadata's design:paramtypes (no @inject). */
@injectable()
class Report {
  constructor(readonly clock: FixedClock) {}
}

describe('dependency injection', () => {
  it('two kernels in one process share nothing: the same token is bound differently in each', async () => {
    const Name = token<string>('test.di.Name');
    const p = plugin('namer', {
      provides: [Name],
      config: z.object({ name: z.string().describe('name') }),
      register: (ctx) => ctx.provide(Name, (ctx.config as { name: string }).name),
    });
    const k1 = await kernelOf([p], { options: { namer: { name: 'first' } } });
    const k2 = await kernelOf([p], { options: { namer: { name: 'second' } } });
    await k1.start();
    await k2.start();
    try {
      expect(k1.get(Name)).to.equal('first');
      expect(k2.get(Name)).to.equal('second');
      expect(k1.health).not.to.equal(k2.health);
    } finally {
      await k1.stop();
      await k2.stop();
    }
    // Nothing leaked into tsyringe's global container either.
    expect(tsyringeGlobal.isRegistered(Name, true)).to.equal(false);
  });

  it('keeps a plugin’s own bindings private; other plugins see only what it provides', async () => {
    const Private = token<string>('test.di.Private');
    const Public = token<string>('test.di.Public');
    const seen: Record<string, unknown> = {};
    const kernel = await kernelOf([
      plugin('owner', {
        provides: [Public],
        register: (ctx) => {
          ctx.container.bindValue(Private, 'secret');
          ctx.provide(Public, 'shared');
          seen.ownPrivate = ctx.container.get(Private);
        },
      }),
      plugin('other', {
        dependsOn: ['owner'],
        register: (ctx) => {
          seen.otherPrivate = ctx.container.tryGet(Private);
          seen.otherHasPrivate = ctx.container.has(Private);
          seen.otherPublic = ctx.container.get(Public);
          try {
            ctx.container.get(Private);
          } catch (err) {
            seen.error = err;
          }
        },
      }),
    ]);
    await kernel.start();
    try {
      expect(seen.ownPrivate).to.equal('secret');
      expect(seen.otherPrivate).to.equal(undefined);
      expect(seen.otherHasPrivate).to.equal(false);
      expect(seen.otherPublic).to.equal('shared');
      expect((seen.error as { code: string }).code).to.equal('GANTRY_CORE_TOKEN_NOT_BOUND');
      expect((seen.error as Error).message).to.equal('plugin "other": nothing is bound to token "test.di.Private"');
      expect(kernel.get(Public)).to.equal('shared');
      expect(thrown(() => kernel.get(Private)).code).to.equal('GANTRY_CORE_TOKEN_NOT_BOUND');
    } finally {
      await kernel.stop();
    }
  });

  it('builds @injectable classes with @inject(token) parameters and design-type parameters', () => {
    const root = TsyringeContainer.createRoot('test');
    root.bindValue(Greeting, 'hello');
    root.bindClass(Clock, FixedClock);
    const greeter = root.construct(Greeter);
    expect(greeter.greet('ada')).to.equal('hello, ada @42');
    const report = root.construct(Report);
    expect(report.clock).to.be.instanceOf(FixedClock);
    expect(report.clock.now()).to.equal(42);
  });

  it('names the missing token when a class cannot be built', () => {
    const root = TsyringeContainer.createRoot('plugin "x"');
    root.bindValue(Greeting, 'hi');
    const err = thrown(() => root.construct(Greeter));
    expect(err.code).to.equal('GANTRY_CORE_TOKEN_NOT_BOUND');
    expect(err.message).to.match(/^plugin "x": cannot construct Greeter: .*test\.di\.Clock/s);
  });

  it('bindFactory builds once, lazily, and a child sees its parent but not the reverse', () => {
    const root: Container = TsyringeContainer.createRoot('root');
    let calls = 0;
    root.bindFactory(Greeting, () => `built ${++calls}`);
    expect(calls).to.equal(0);
    const child = root.createChild();
    expect(child.get(Greeting)).to.equal('built 1');
    expect(root.get(Greeting)).to.equal('built 1');
    expect(calls).to.equal(1);
    child.bindValue(Clock, { now: () => 1 });
    expect(root.has(Clock)).to.equal(false);
    expect(root.tryGet(Clock)).to.equal(undefined);
  });

  it('plugins can build their services from the kernel container with construct()', async () => {
    let greeting: string | undefined;
    const kernel = await kernelOf([
      plugin('words', { provides: [Greeting], register: (ctx) => ctx.provide(Greeting, 'hey') }),
      plugin('svc', {
        dependsOn: ['words'],
        register: (ctx) => {
          ctx.container.bindClass(Clock, FixedClock);
          greeting = ctx.container.construct(Greeter).greet('bob');
        },
      }),
    ]);
    await kernel.start();
    await kernel.stop();
    expect(greeting).to.equal('hey, bob @42');
  });

  it('a token no plugin binds fails at start with the token name', async () => {
    const Unbound = token<string>('test.di.Unbound');
    const kernel = await kernelOf([plugin('needs', { register: (ctx) => void ctx.container.get(Unbound) })]);
    const err = await rejection(kernel.start());
    expect(err.message).to.include('nothing is bound to token "test.di.Unbound"');
  });
});
