import { definePlugin, type Plugin, type PluginDefinition } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { expect } from 'chai';
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
      // Named with where it was created, so the leak is found in the plugin's code at once.
      expect(byCheck(results)['no-leaked-handles']!.message).to.match(
        /^still open after stop: 2 Timeout \(created at .*conformance\.test\.js/,
      );
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
      expect(byCheck(results)['no-leaked-handles']!.message).to.match(
        /^still open after stop: 1 Timeout \(created at /,
      );
    } finally {
      for (const t of leaked) clearTimeout(t);
    }
  });

  it('finds a leak even while an unrelated timer of the same type ends during the check (a count of handles would not)', async () => {
    const leaked: NodeJS.Timeout[] = [];
    // Unrelated code's timer: armed before the check, it fires while the plugin runs. Counting the
    // process's Timeouts before and after, its end cancels out the plugin's leaked one.
    const unrelated = setTimeout(() => undefined, 5);
    const once = make('masked-leak', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({
          name: 'poll',
          start: async () => {
            if (leaked.length === 0) leaked.push(setTimeout(() => undefined, 60_000));
            await new Promise((r) => setTimeout(r, 20));
          },
        });
      },
    });
    try {
      const results = await checkConformance({ plugin: once });
      expect(failed(results)).to.deep.equal(['no-leaked-handles']);
      expect(byCheck(results)['no-leaked-handles']!.message).to.match(/^still open after stop: 1 Timeout /);
    } finally {
      clearTimeout(unrelated);
      for (const t of leaked) clearTimeout(t);
    }
  });

  it('passes a clean plugin while unrelated code opens timers and a server during the check', async () => {
    const { createServer } = await import('node:net');
    const opened: { timer?: NodeJS.Timeout; server?: import('node:net').Server } = {};
    const busy = setImmediate(() => {
      // Created by the test, outside the plugin's work: never the plugin's to close.
      opened.timer = setInterval(() => undefined, 60_000);
      opened.server = createServer().listen(0, '127.0.0.1');
    });
    const clean = make('clean-while-busy', {
      register: (ctx) => {
        ctx.health.check(() => ({ status: 'up' }));
        ctx.lifecycle.hook({ name: 'wait', start: () => new Promise((r) => setTimeout(r, 20)) });
      },
    });
    try {
      const results = await checkConformance({ plugin: clean });
      expect(failed(results), JSON.stringify(results)).to.deep.equal([]);
      expect(opened.timer).to.not.equal(undefined);
    } finally {
      clearImmediate(busy);
      clearInterval(opened.timer);
      await new Promise<void>((r) => (opened.server ? opened.server.close(() => r()) : r()));
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
