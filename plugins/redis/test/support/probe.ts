import { definePlugin, type Logger, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { plugin as redisPlugin, RedisToken } from '../../src/index.js';

/** The real Redis of the `*.redis.test.ts` suites (REDIS_HOST:REDIS_PORT, default 127.0.0.1:6379). */
export const REDIS = { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) };
export const REDIS_URL = `redis://${REDIS.host}:${REDIS.port}`;

/**
 * A plugin using the shared connection the way real ones do: `GET /api/v1/<name>` increments `key`
 * with `run()` and answers `{ value }`.
 */
export function counterPlugin(key: string, name = 'counter'): Plugin {
  return definePlugin({
    name,
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http', 'redis'],
    register(ctx) {
      const redis = ctx.container.get(RedisToken);
      ctx.http.get(`/${name}`, {}, async () => ({ value: await redis.run((c) => c.incr(key)) }));
    },
  });
}

/** Boots http + redis + a counter plugin (`GET /api/v1/counter`) with the given redis options. */
export function boot(
  redis: Record<string, unknown>,
  options: { key?: string; extra?: readonly Plugin[]; logger?: Logger; start?: boolean } = {},
): Promise<TestKernel> {
  return createTestKernel({
    plugins: [
      httpPlugin,
      redisPlugin,
      counterPlugin(options.key ?? 'gantry:redis-test:unused'),
      ...(options.extra ?? []),
    ],
    config: { redis },
    logger: options.logger,
    start: options.start,
  });
}

/** One readiness check as /readyz reports it. */
export interface CheckReport {
  readonly status: string;
  readonly critical: boolean;
  readonly details?: Record<string, unknown>;
}

/** The HTTP status of /readyz and its `redis` check. */
export async function readiness(kernel: TestKernel): Promise<{ httpStatus: number; check: CheckReport }> {
  const res = await kernel.inject('/readyz');
  return { httpStatus: res.statusCode, check: (res.json() as { checks: Record<string, CheckReport> }).checks.redis! };
}

/** Polls until `probe` returns true (an outage or a reconnect happens in the background). */
export async function eventually(probe: () => Promise<boolean>, attempts = 100, everyMs = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`condition not reached after ${attempts} attempts`);
}

/** What a rejected promise rejected with (fails when it resolves). */
export async function rejection(
  promise: Promise<unknown>,
): Promise<
  Error & { code?: string; status?: number; details?: Record<string, unknown>; headers?: Record<string, string> }
> {
  try {
    await promise;
  } catch (err) {
    return err as never;
  }
  throw new Error('expected a rejection, got a value');
}

/** Calls `fn`, which must throw, and returns what it threw. */
export function thrown(fn: () => unknown): Error & { code?: string; status?: number } {
  try {
    fn();
  } catch (err) {
    return err as never;
  }
  throw new Error('expected a throw');
}
