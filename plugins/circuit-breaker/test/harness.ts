// Boots a kernel with the http plugin, the circuit-breaker plugin and a small test plugin whose
// route calls the upstream through the circuit-breaker HTTP client, as an application would;
// useUpstream() gives a suite one controllable upstream and stops the kernels its tests boot.
import { definePlugin, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { z } from 'zod';
import {
  CircuitBreakersToken,
  plugin as circuitBreakerPlugin,
  type HttpClient,
  type PolicyOptions,
} from '../src/index.js';
import { Upstream } from './upstream.js';

/** A plugin exposing `GET /api/v1/upstream/:policy`, which calls `GET <upstream>/work` through that policy's client. */
export function upstreamRoutes(baseUrl: string): Plugin {
  return definePlugin({
    name: 'upstream-demo',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http', 'circuit-breaker'],
    requires: [CircuitBreakersToken],
    register(ctx) {
      const breakers = ctx.container.get(CircuitBreakersToken);
      // Clients are built once here, at boot, as the README recommends.
      const clients = new Map<string, HttpClient>(
        breakers.names().map((name) => [name, breakers.httpClient(name, { baseUrl })]),
      );
      ctx.http.get(
        '/upstream/:policy',
        { schema: { params: z.object({ policy: z.string() }) }, summary: 'Calls the test upstream' },
        async (req, reply) => {
          const { policy } = req.params as { policy: string };
          const response = await clients.get(policy)!.get('/work');
          reply.status(response.status);
          return (await response.json()) as unknown;
        },
      );
    },
  });
}

/** What {@link boot} takes: the upstream's base URL, the circuit-breaker policies and extra http options. */
export interface BootOptions {
  upstream: string;
  policies: Record<string, PolicyOptions>;
  http?: Record<string, unknown>;
}

/** Starts a kernel whose circuit-breaker has `policies`; `http` holds extra http options. */
export function boot(options: BootOptions): Promise<TestKernel> {
  return createTestKernel({
    plugins: [httpPlugin, circuitBreakerPlugin, upstreamRoutes(options.upstream)],
    config: { http: options.http ?? {}, 'circuit-breaker': { policies: options.policies } },
  });
}

/** What {@link useUpstream} gives a suite. */
export interface UpstreamFixture {
  /** The suite's upstream; it exists from the suite's `before` hook on. */
  readonly upstream: Upstream;
  /** {@link boot} against the suite's upstream; the kernel is stopped after the current test. */
  boot(options: Omit<BootOptions, 'upstream'>): Promise<TestKernel>;
}

/**
 * Registers, in the calling `describe`, the hooks of a suite that talks to one {@link Upstream}:
 * start it before the suite, reset it before each test, stop the kernels the test booted through
 * the fixture after it, and close the upstream after the suite.
 */
export function useUpstream(): UpstreamFixture {
  let upstream: Upstream | undefined;
  let kernels: TestKernel[] = [];

  before(async () => {
    upstream = await Upstream.start();
  });
  beforeEach(() => fixture.upstream.reset());
  afterEach(async () => {
    const booted = kernels;
    kernels = [];
    for (const kernel of booted.reverse()) await kernel.stop();
  });
  after(() => upstream?.close());

  const fixture: UpstreamFixture = {
    get upstream(): Upstream {
      if (!upstream)
        throw new Error("useUpstream(): the upstream starts in the suite's before hook; use it in a test or hook");
      return upstream;
    },
    async boot(options) {
      const kernel = await boot({ ...options, upstream: fixture.upstream.url });
      kernels.push(kernel);
      return kernel;
    },
  };
  return fixture;
}

/** Resolves after `ms` milliseconds (to let a breaker's halfOpenAfter pass, never to measure). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` until it holds; fails the test with `what` if it never does. */
export async function eventually(predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (predicate()) return;
    await sleep(5);
  }
  throw new Error(`never happened: ${what}`);
}
