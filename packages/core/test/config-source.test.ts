import { expect } from 'chai';
import { z } from 'zod';
import {
  changedPaths,
  CoreErrors,
  KernelInfoToken,
  token,
  type ConfigLayer,
  type ConfigSource,
  type Kernel,
  type Logger,
  type Plugin,
} from '../src/index.js';
import { kernelOf, plugin, rejection } from './helpers.js';

/** An in-process config source: `set()` replaces its layer and tells the watchers (what a Consul watch does). */
class MemorySource implements ConfigSource {
  readonly name = 'memory';
  private listeners = new Set<(layer: ConfigLayer) => void>();
  unwatched = 0;
  constructor(
    private layer: ConfigLayer = {},
    private readonly failLoad?: Error,
  ) {}
  async load(): Promise<ConfigLayer> {
    if (this.failLoad) throw this.failLoad;
    return this.layer;
  }
  watch(onChange: (layer: ConfigLayer) => void): () => void {
    this.listeners.add(onChange);
    return () => {
      this.unwatched++;
      this.listeners.delete(onChange);
    };
  }
  set(layer: ConfigLayer): void {
    this.layer = layer;
    for (const l of this.listeners) l(layer);
  }
  get watchers(): number {
    return this.listeners.size;
  }
}

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

function capture(lines: Line[]): Logger {
  const write = (level: string) => (obj: object | string, msg?: string) =>
    void lines.push(
      typeof obj === 'string' ? { level, msg: obj, fields: {} } : { level, msg: msg ?? '', fields: obj as never },
    );
  const logger: Logger = {
    trace: write('trace'),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    fatal: write('fatal'),
    child: () => logger,
  };
  return logger;
}

/** The plugin that contributes the source. */
function sourcePlugin(source: MemorySource): Plugin {
  return plugin('remote', { configSource: () => source });
}

/** Waits for a condition, bounded. */
async function until(what: string, fn: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) expect.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const limitSchema = z.object({ limit: z.number().int().min(1).default(10), mode: z.string().default('a') }).strict();

describe('config sources and onConfigChange', () => {
  let kernel: Kernel | undefined;
  afterEach(async () => {
    await kernel?.stop();
    kernel = undefined;
  });

  it('layers a source above env at boot, before any plugin registers', async () => {
    const source = new MemorySource({ worker: { limit: 42 } });
    let seen: unknown;
    const worker = plugin('worker', { config: limitSchema, register: (ctx) => void (seen = ctx.config) });
    kernel = await kernelOf([sourcePlugin(source), worker], { env: { GANTRY_WORKER__LIMIT: '7' } });
    await kernel.start();
    expect(seen).to.deep.equal({ limit: 42, mode: 'a' });
  });

  it('keeps local options when the remote value is invalid at boot, and logs plugin, key and reason', async () => {
    const lines: Line[] = [];
    const source = new MemorySource({ worker: { limit: 0 } });
    kernel = await kernelOf([sourcePlugin(source), plugin('worker', { config: limitSchema })], {
      logger: capture(lines),
      options: { worker: { limit: 5 } },
    });
    await kernel.start();
    expect(kernel.optionsOf('worker')).to.deep.equal({ limit: 5, mode: 'a' });
    const line = lines.find((l) => l.fields.code === CoreErrors.CONFIG_CHANGE_REJECTED.code);
    expect(line?.fields.plugin).to.equal('worker');
    expect(line?.fields.keys).to.deep.equal(['limit']);
    expect(String(line?.fields.reason)).to.match(/limit/);
  });

  it('fails the boot with a coded error when a source cannot load', async () => {
    const source = new MemorySource({}, new Error('connection refused'));
    kernel = await kernelOf([sourcePlugin(source)]);
    const err = await rejection(kernel.start());
    expect(err.code).to.equal(CoreErrors.CONFIG_SOURCE_FAILED.code);
    expect(err.message).to.match(/remote.*connection refused/);
  });

  it("applies a change hot when the plugin answers 'applied'; ctx.config reads the new value", async () => {
    const source = new MemorySource();
    const calls: [unknown, unknown, readonly string[]][] = [];
    let read: () => unknown = () => undefined;
    const worker = plugin('worker', {
      config: limitSchema,
      register: (ctx) => void (read = () => ctx.config),
      onConfigChange: (prev, next, ctx) => {
        calls.push([prev, next, ctx.changed]);
        return 'applied';
      },
    });
    kernel = await kernelOf([sourcePlugin(source), worker]);
    await kernel.start();
    expect(source.watchers).to.equal(1);
    source.set({ worker: { limit: 99 } });
    await until('the change', () => kernel!.configChanges().length > 0);
    expect(calls).to.deep.equal([[{ limit: 10, mode: 'a' }, { limit: 99, mode: 'a' }, ['limit']]]);
    expect(read()).to.deep.equal({ limit: 99, mode: 'a' });
    expect(kernel.configChanges()[0]).to.include({ plugin: 'worker', decision: 'applied' });
    // A key removed from the source falls back to the local layers.
    source.set({});
    await until('the fallback', () => kernel!.configChanges().length > 1);
    expect(read()).to.deep.equal({ limit: 10, mode: 'a' });
  });

  it('rejects an invalid change before the plugin sees it: logged with key and reason, previous value kept', async () => {
    const lines: Line[] = [];
    const source = new MemorySource();
    let called = 0;
    const worker = plugin('worker', {
      config: limitSchema,
      onConfigChange: () => {
        called++;
        return 'applied';
      },
    });
    kernel = await kernelOf([sourcePlugin(source), worker], { logger: capture(lines) });
    await kernel.start();
    source.set({ worker: { limit: 'many' } });
    await until('the rejection', () => kernel!.configChanges().length > 0);
    expect(called).to.equal(0);
    expect(kernel.optionsOf('worker')).to.deep.equal({ limit: 10, mode: 'a' });
    const rec = kernel.configChanges()[0]!;
    expect(rec).to.include({ plugin: 'worker', decision: 'invalid' });
    expect(rec.keys).to.deep.equal(['limit']);
    const line = lines.find((l) => l.fields.code === CoreErrors.CONFIG_CHANGE_REJECTED.code)!;
    expect(line.level).to.equal('warn');
    expect(line.fields).to.include({ plugin: 'worker' });
    expect(line.msg).to.match(/option "limit": .*number/);
  });

  it('rejects changes for plugins without onConfigChange (the safe default) and keeps the value', async () => {
    const lines: Line[] = [];
    const source = new MemorySource();
    let starts = 0;
    const worker = plugin('worker', {
      config: limitSchema,
      register: (ctx) => ctx.lifecycle.hook({ name: 'w', start: () => void starts++ }),
    });
    kernel = await kernelOf([sourcePlugin(source), worker], { logger: capture(lines) });
    await kernel.start();
    source.set({ worker: { limit: 3 } });
    await until('the rejection', () => kernel!.configChanges().length > 0);
    expect(kernel.configChanges()[0]).to.include({ plugin: 'worker', decision: 'reject' });
    expect(kernel.optionsOf('worker')).to.deep.equal({ limit: 10, mode: 'a' });
    expect(starts).to.equal(1);
    expect(lines.some((l) => /no onConfigChange/.test(l.msg))).to.equal(true);
  });

  it("'restart' restarts that plugin and its dependents in order, not the others; start hooks read the new value", async () => {
    const source = new MemorySource();
    const log: string[] = [];
    const WorkerToken = token<{ limit: () => number }>('test.Worker');
    const hooked = (name: string, extra: Parameters<typeof plugin>[1] = {}): Plugin =>
      plugin(name, {
        ...extra,
        register: (ctx) => {
          (extra.register as ((c: typeof ctx) => void) | undefined)?.(ctx);
          ctx.lifecycle.hook({
            name,
            start: () => void log.push(`start:${name}:${JSON.stringify(ctx.config)}`),
            stop: () => void log.push(`stop:${name}`),
          });
        },
      });
    const worker = hooked('worker', {
      config: limitSchema,
      provides: [WorkerToken],
      register: (ctx) => ctx.provide(WorkerToken, { limit: () => (ctx.config as { limit: number }).limit }),
      onConfigChange: () => 'restart',
    });
    const byName = hooked('by-name', { dependsOn: ['worker'] });
    const byToken = hooked('by-token', { requires: [WorkerToken] });
    const grandchild = hooked('grandchild', { dependsOn: ['by-name'] });
    const other = hooked('other');
    kernel = await kernelOf([sourcePlugin(source), other, worker, byName, byToken, grandchild]);
    await kernel.start();
    const info = kernel.get(KernelInfoToken);
    log.length = 0;
    source.set({ worker: { limit: 2 } });
    await until('the restart', () => kernel!.configChanges().length > 0);
    expect(log).to.deep.equal([
      'stop:grandchild',
      'stop:by-token',
      'stop:by-name',
      'stop:worker',
      'start:worker:{"limit":2,"mode":"a"}',
      'start:by-name:{}',
      'start:by-token:{}',
      'start:grandchild:{}',
    ]);
    const rec = kernel.configChanges()[0]!;
    expect(rec).to.include({ plugin: 'worker', decision: 'restart' });
    expect(rec.restarted).to.deep.equal(['worker', 'by-name', 'by-token', 'grandchild']);
    expect(info.isRestarting!('worker')).to.equal(false);
    // Shutdown still stops every hook once, in reverse order.
    log.length = 0;
    await kernel.stop();
    expect(log).to.deep.equal(['stop:grandchild', 'stop:by-token', 'stop:by-name', 'stop:worker', 'stop:other']);
    expect(source.unwatched).to.equal(1);
  });

  it('a start hook failing during a restart leaves that plugin marked restarting (503) and logged', async () => {
    const lines: Line[] = [];
    const source = new MemorySource();
    let fail = false;
    const worker = plugin('worker', {
      config: limitSchema,
      onConfigChange: () => 'restart',
      register: (ctx) =>
        ctx.lifecycle.hook({
          name: 'w',
          start: () => {
            if (fail) throw new Error('port taken');
          },
        }),
    });
    kernel = await kernelOf([sourcePlugin(source), worker], { logger: capture(lines) });
    await kernel.start();
    fail = true;
    source.set({ worker: { limit: 2 } });
    await until('the restart', () => kernel!.configChanges().length > 0);
    expect(kernel.configChanges()[0]).to.include({ plugin: 'worker', decision: 'failed' });
    expect(kernel.get(KernelInfoToken).isRestarting!('worker')).to.equal(true);
    expect(lines.some((l) => l.level === 'error' && /start hook failed during a config restart/.test(l.msg))).to.equal(
      true,
    );
  });

  it('a kernel registered before start (tools) applies the remote layer as a change once started', async () => {
    const source = new MemorySource({ worker: { limit: 8 } });
    const worker = plugin('worker', { config: limitSchema, onConfigChange: () => 'applied' });
    kernel = await kernelOf([sourcePlugin(source), worker]);
    await kernel.register();
    expect(kernel.optionsOf('worker')).to.deep.equal({ limit: 10, mode: 'a' });
    await kernel.start();
    await until('the remote layer', () => kernel!.configChanges().length > 0);
    expect(kernel.optionsOf('worker')).to.deep.equal({ limit: 8, mode: 'a' });
  });

  it('stop() during a restart lets the restart finish, then stops every hook once', async () => {
    const source = new MemorySource();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let slow = false;
    const worker = plugin('worker', {
      config: limitSchema,
      onConfigChange: () => 'restart',
      register: (ctx) =>
        ctx.lifecycle.hook({
          name: 'w',
          start: () => void log.push('start'),
          stop: async () => {
            log.push('stop');
            if (slow) await gate;
          },
        }),
    });
    kernel = await kernelOf([sourcePlugin(source), worker]);
    await kernel.start();
    slow = true;
    source.set({ worker: { limit: 2 } });
    await until('the restart to begin', () => log.length === 2);
    const stopping = kernel.stop();
    slow = false;
    release();
    await stopping;
    expect(log).to.deep.equal(['start', 'stop', 'start', 'stop']);
    expect(kernel.configChanges()[0]).to.include({ decision: 'restart' });
  });

  it('changedPaths lists the leaves that differ', () => {
    expect(changedPaths({ a: 1, b: { c: 2, d: [1] } }, { a: 1, b: { c: 3, d: [2] }, e: true })).to.deep.equal([
      'b.c',
      'b.d',
      'e',
    ]);
  });
});
