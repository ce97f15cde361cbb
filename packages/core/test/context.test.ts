import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import {
  CoreErrors,
  currentContext,
  currentSignal,
  RequestContext,
  runWithContext,
  silentLogger,
} from '../src/index.js';

const logger = silentLogger();

describe('request context', () => {
  it('aborts its signal at the deadline with GANTRY_CORE_DEADLINE_EXCEEDED', async () => {
    const ctx = new RequestContext('req-1', Date.now() + 20, logger);
    const signal = ctx.signal;
    expect(signal.aborted).to.equal(false);
    await once(signal, 'abort');
    expect(CoreErrors.DEADLINE_EXCEEDED.is(signal.reason)).to.equal(true);
    expect((signal.reason as Error).message).to.equal('request req-1 passed its deadline');
    expect((signal.reason as { status: number }).status).to.equal(504);
  });

  it('release() ends the deadline timer without aborting: a finished request is never aborted later', async () => {
    const ctx = new RequestContext('req-2', Date.now() + 20, logger);
    const signal = ctx.signal;
    expect(ctx.signal).to.equal(signal);
    ctx.release();
    await sleep(40);
    expect(signal.aborted).to.equal(false);
  });

  it('builds the signal lazily: no deadline timer until a handler asks for it', () => {
    const original = globalThis.setTimeout;
    let timersSet = 0;
    globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
      timersSet++;
      return original(...args);
    }) as typeof setTimeout;
    try {
      const ctx = new RequestContext('req-lazy', Date.now() + 60_000, logger);
      ctx.set(Symbol('k'), 1);
      ctx.remainingMs();
      void ctx.requestId;
      expect(timersSet).to.equal(0);
      const signal = ctx.signal;
      expect(ctx.signal).to.equal(signal);
      expect(timersSet).to.equal(1);
      ctx.release();
    } finally {
      globalThis.setTimeout = original;
    }
  });

  it('is already aborted when asked after the deadline', () => {
    const ctx = new RequestContext('late', Date.now() - 1, logger);
    expect(ctx.signal.aborted).to.equal(true);
    expect(CoreErrors.DEADLINE_EXCEEDED.is(ctx.signal.reason)).to.equal(true);
  });

  it('cancel() aborts with the given reason, once', () => {
    const ctx = new RequestContext('req-3', Date.now() + 60_000, logger);
    const signal = ctx.signal;
    const reason = new Error('client went away');
    ctx.cancel(reason);
    ctx.cancel(new Error('second'));
    expect(signal.aborted).to.equal(true);
    expect(signal.reason).to.equal(reason);
  });

  it('runWithContext makes the context visible across awaits and keeps concurrent requests apart', async () => {
    const a = new RequestContext('a', Date.now() + 60_000, logger);
    const b = new RequestContext('b', Date.now() + 60_000, logger);
    const seen: string[] = [];
    const work = async (delay: number): Promise<void> => {
      seen.push(`${currentContext()!.requestId}:before`);
      await sleep(delay);
      await Promise.resolve();
      seen.push(`${currentContext()!.requestId}:after`);
    };
    expect(currentContext()).to.equal(undefined);
    await Promise.all([runWithContext(a, () => work(15)), runWithContext(b, () => work(1))]);
    expect(seen).to.deep.equal(['a:before', 'b:before', 'b:after', 'a:after']);
    expect(currentContext()).to.equal(undefined);
    expect(runWithContext(a, () => currentContext())).to.equal(a);
  });

  it('currentSignal() is the request signal, combined with an extra one when given', () => {
    const extra = new AbortController();
    expect(currentSignal()).to.equal(undefined);
    expect(currentSignal(extra.signal)).to.equal(extra.signal);
    const ctx = new RequestContext('req-4', Date.now() + 60_000, logger);
    runWithContext(ctx, () => {
      expect(currentSignal()).to.equal(ctx.signal);
      const combined = currentSignal(extra.signal)!;
      expect(combined.aborted).to.equal(false);
      extra.abort(new Error('caller gave up'));
      expect(combined.aborted).to.equal(true);
      expect((combined.reason as Error).message).to.equal('caller gave up');
    });
    ctx.release();
  });

  it('stores per-request slots under plugin-owned symbols, separate per request', () => {
    const key = Symbol('test.slot');
    const other = Symbol('test.other');
    const a = new RequestContext('a', Date.now() + 1_000, logger);
    const b = new RequestContext('b', Date.now() + 1_000, logger);
    expect(a.get(key)).to.equal(undefined);
    a.set(key, { em: 1 });
    b.set(key, { em: 2 });
    expect(a.get<{ em: number }>(key)).to.deep.equal({ em: 1 });
    expect(b.get<{ em: number }>(key)).to.deep.equal({ em: 2 });
    expect(a.get(other)).to.equal(undefined);
  });

  it('gives a child logger bound to the request id, built once', () => {
    const bindings: Record<string, unknown>[] = [];
    const fake = {
      child: (b: Record<string, unknown>) => {
        bindings.push(b);
        return fake;
      },
    } as unknown as typeof logger;
    const ctx = new RequestContext('req-log', Date.now() + 1_000, fake);
    expect(ctx.logger).to.equal(ctx.logger);
    expect(bindings).to.deep.equal([{ requestId: 'req-log' }]);
  });
});
