import { expect } from 'chai';
import { z } from 'zod';
import { LoggerToken, silentLogger, type Logger, type LoggerProviderInit } from '../src/index.js';
import { kernelOf, plugin, rejection } from './helpers.js';

interface Line {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly msg?: string;
}

/** A logger that records every line with its bindings (what a logger plugin would ship). */
function recording(lines: Line[], bindings: Record<string, unknown> = {}): Logger {
  const at =
    (level: string) =>
    (obj: object | string, msg?: string): void => {
      if (typeof obj === 'string') lines.push({ level, fields: { ...bindings }, msg: obj });
      else lines.push({ level, fields: { ...bindings, ...obj }, msg });
    };
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    fatal: at('fatal'),
    child: (more) => recording(lines, { ...bindings, ...more }),
  };
}

describe('a plugin that provides the logger', () => {
  it("replaces the kernel's logger for every plugin, even one registered before it, and sees its own options", async () => {
    const lines: Line[] = [];
    const inits: { config: unknown; init: LoggerProviderInit }[] = [];
    const fallback = silentLogger();
    const seen: Logger[] = [];
    const early = plugin('early', {
      register(ctx) {
        seen.push(ctx.container.get(LoggerToken));
        ctx.logger.info({ step: 'register' }, 'early registers');
      },
    });
    const provider = plugin('log-provider', {
      optionalDependsOn: ['early'],
      config: z.object({ tag: z.string().default('t').describe('a tag') }).strict(),
      logger(config, init) {
        inits.push({ config, init });
        return recording(lines, { tag: (config as { tag: string }).tag });
      },
    });
    const kernel = await kernelOf([early, provider], {
      options: { early: {}, 'log-provider': { tag: 'x' } },
      logger: fallback,
    });
    await kernel.start();
    await kernel.stop();
    expect(inits).to.have.length(1);
    expect(inits[0]!.config).to.deep.equal({ tag: 'x' });
    expect(inits[0]!.init.fallback).to.equal(fallback);
    expect(kernel.logger).to.not.equal(fallback);
    expect(seen[0]).to.equal(kernel.logger);
    const early1 = lines.find((l) => l.msg === 'early registers');
    expect(early1?.fields).to.include({ plugin: 'early', tag: 'x', step: 'register' });
    // The kernel's own lines go through it too.
    expect(lines.some((l) => typeof l.msg === 'string' && l.msg.startsWith('started 2 plugins'))).to.equal(true);
  });

  it('keeps the default logger when no plugin provides one', async () => {
    const fallback = silentLogger();
    const kernel = await kernelOf([plugin('plain')], { options: { plain: {} }, logger: fallback });
    expect(kernel.logger).to.equal(fallback);
  });

  it('refuses two logger plugins, and reports a provider that throws', async () => {
    const make = (name: string) => plugin(name, { logger: () => silentLogger() });
    const two = await rejection(kernelOf([make('log-a'), make('log-b')], { options: { 'log-a': {}, 'log-b': {} } }));
    expect(two.code).to.equal('GANTRY_CORE_BOOT_INVALID');
    expect(two.message).to.include('log-a, log-b');
    const broken = plugin('log-broken', {
      logger: () => {
        throw new Error('no destination');
      },
    });
    const err = await rejection(kernelOf([broken], { options: { 'log-broken': {} } }));
    expect(err.code).to.equal('GANTRY_CORE_REGISTER_FAILED');
    expect(err.message).to.include('plugin "log-broken": its logger could not be built: no destination');
  });
});
