// @gantry/testing depends on @gantry/http, so it cannot be a TypeScript project reference of this
// package (references may not be circular) and a clean `tsc -b` builds http before testing. The
// tests therefore load @gantry/testing at run time (it is built by then) and type the part they use here.
import type { IncomingHttpHeaders } from 'node:http';
import {
  definePlugin,
  type Kernel,
  type KernelOptionsInput,
  type Plugin,
  type PluginContext,
  type Token,
} from '@gantry/core';
import { plugin as httpPlugin } from '../src/index.js';

/** The subset of light-my-request's options the tests use. */
export interface InjectOptions {
  readonly method?: string;
  readonly url: string;
  readonly payload?: string | Buffer | object;
  readonly headers?: Record<string, string>;
  readonly remoteAddress?: string;
}

/** The subset of light-my-request's response the tests use. */
export interface InjectResponse {
  readonly statusCode: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  json<T = Record<string, unknown>>(): T;
}

// Kept as a copy: even `import type` needs @gantry/testing's .d.ts, which a clean `tsc -b` emits only after this package.
/** Mirrors `TestKernel` of @gantry/testing. */
export interface TestKernel extends AsyncDisposable {
  readonly kernel: Kernel;
  get<T>(token: Token<T>): T;
  inject(options: InjectOptions | string): Promise<InjectResponse>;
  url(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Mirrors `TestKernelOptions` of @gantry/testing. */
export interface TestKernelOptions {
  readonly plugins: readonly (Plugin | string)[];
  readonly config?: Readonly<Record<string, Record<string, unknown>>>;
  readonly env?: NodeJS.ProcessEnv;
  readonly start?: boolean;
  readonly kernel?: KernelOptionsInput;
}

const testingSpecifier: string = '@gantry/testing';

/** createTestKernel from @gantry/testing, with the http plugin enabled first. */
export async function createTestKernel(options: TestKernelOptions): Promise<TestKernel> {
  const testing = (await import(testingSpecifier)) as { createTestKernel(o: TestKernelOptions): Promise<TestKernel> };
  return testing.createTestKernel({ ...options, plugins: [httpPlugin, ...options.plugins] });
}

/** A plugin depending on http whose register() is `fn`. */
export function routes(
  name: string,
  fn: (ctx: PluginContext<unknown>) => void,
  extra: Partial<Parameters<typeof definePlugin>[0]> = {},
): Plugin {
  return definePlugin({
    name,
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http'],
    register: fn as never,
    ...extra,
  });
}
