// keepMemoryReducerAwake: V8's memory reducer collects an idle process's garbage (fresh process,
// V8's own trace of its decisions).
import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { IDLE_MEMORY_TICK_MS, keepMemoryReducerAwake } from '../src/index.js';
import { FIXTURES } from './helpers.js';

describe('keepMemoryReducerAwake', function () {
  this.timeout(60_000);

  it('lets V8 run a memory-reducing collection once the process idles after a burst', async () => {
    const proc = spawn(
      process.execPath,
      ['--trace-gc', '--trace-memory-reducer', path.join(FIXTURES, 'idle-memory-app.mjs'), 'on'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    proc.stdout.on('data', (d) => {
      out += String(d);
    });
    proc.stderr.on('data', (d) => {
      out += String(d);
    });
    try {
      // The reducer checks every 8 s once the old generation grew; 40 s leaves room for a busy machine.
      const deadline = Date.now() + 40_000;
      while (!/Memory reducer: started GC/.test(out) && Date.now() < deadline && proc.exitCode === null)
        await new Promise((r) => setTimeout(r, 100));
      expect(out).to.match(/burst done/);
      const after = out.slice(out.indexOf('burst done'));
      expect(after, out.slice(-3000)).to.match(/Memory reducer: low alloc/);
      expect(after, out.slice(-3000)).to.match(/Memory reducer: started GC/);
    } finally {
      proc.kill('SIGKILL');
    }
  });

  it('keeps one timer per process, stopped when every caller released it', () => {
    const { setInterval: realSet, clearInterval: realClear } = globalThis;
    let live = 0;
    globalThis.setInterval = ((...args: Parameters<typeof realSet>) => {
      live++;
      return realSet(...args);
    }) as typeof realSet;
    globalThis.clearInterval = ((t: Parameters<typeof realClear>[0]) => {
      live--;
      realClear(t);
    }) as typeof realClear;
    try {
      const releaseA = keepMemoryReducerAwake();
      const releaseB = keepMemoryReducerAwake();
      expect(live).to.equal(1);
      releaseA();
      releaseA();
      expect(live).to.equal(1);
      releaseB();
      expect(live).to.equal(0);
      const releaseC = keepMemoryReducerAwake();
      expect(live).to.equal(1);
      releaseC();
      expect(live).to.equal(0);
    } finally {
      globalThis.setInterval = realSet;
      globalThis.clearInterval = realClear;
    }
    expect(IDLE_MEMORY_TICK_MS).to.equal(30_000);
  });
});
