import {
  createKernel,
  silentLogger,
  type Kernel,
  type KernelOptionsInput,
  type Logger,
  type Plugin,
  type Token,
} from '@gantry/core';
import { HttpServerToken } from '@gantry/http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { inject as lightInject, type InjectOptions, type Response as InjectResponse } from 'light-my-request';

/** How to build a test kernel. */
export interface TestKernelOptions {
  /** Plugins to enable: values made by definePlugin, or config specifiers (`metrics`, `./local`). */
  readonly plugins: readonly (Plugin | string)[];
  /** Options per plugin name (or specifier). `http` defaults to `{ listen: false }`. */
  readonly config?: Readonly<Record<string, Record<string, unknown>>>;
  readonly profile?: string;
  /** Environment seen by config overrides; defaults to an empty one so tests do not depend on the shell. */
  readonly env?: NodeJS.ProcessEnv;
  readonly appDir?: string;
  /** Start right away (default true). */
  readonly start?: boolean;
  /** Default: a silent logger. */
  readonly logger?: Logger;
  readonly kernel?: KernelOptionsInput;
}

/** A kernel for one test: started, disposable (`await using k = await createTestKernel(...)`). */
export interface TestKernel extends AsyncDisposable {
  readonly kernel: Kernel;
  get<T>(token: Token<T>): T;
  /** Sends a request in process, through the whole HTTP stack, without a socket. */
  inject(options: InjectOptions | string): Promise<InjectResponse>;
  /** Base URL when the `http` plugin listens (`{ http: { listen: true, port: 0 } }`). */
  url(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Builds (and by default starts) a kernel with the given plugins and options; see {@link TestKernel}. */
export async function createTestKernel(options: TestKernelOptions): Promise<TestKernel> {
  const values = options.plugins.filter((p): p is Plugin => typeof p !== 'string');
  const config: Record<string, Record<string, unknown>> = {};
  for (const p of options.plugins) {
    const key = typeof p === 'string' ? p : p.name;
    config[key] = { ...(key === 'http' ? { listen: false } : {}), ...(options.config?.[key] ?? {}) };
  }
  const kernel = await createKernel({
    appDir: options.appDir,
    config: { plugins: config },
    profile: options.profile ?? 'embedded',
    env: options.env ?? {},
    plugins: values,
    logger: options.logger ?? silentLogger(),
    kernel: { hookTimeoutMs: 10_000, shutdownTimeoutMs: 10_000, ...options.kernel },
  });
  let dispatch: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const tk: TestKernel = {
    kernel,
    get: (t) => kernel.get(t),
    inject: async (injectOptions) => {
      dispatch ??= isolatedDispatch(kernel.get(HttpServerToken).handler());
      return lightInject(dispatch, injectOptions);
    },
    url: () => {
      const addr = kernel.get(HttpServerToken).address();
      if (!addr) throw new Error('the http plugin is not listening: pass config { http: { listen: true, port: 0 } }');
      const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`;
    },
    start: () => kernel.start(),
    stop: () => kernel.stop(),
    [Symbol.asyncDispose]: () => kernel.stop(),
  };
  if (options.start !== false) await kernel.start();
  return tk;
}

/** The parts of an express app {@link isolatedDispatch} touches. */
interface ExpressLike {
  (req: IncomingMessage, res: ServerResponse): void;
  request?: object;
  response?: object;
  handle?: (req: IncomingMessage, res: ServerResponse) => void;
}

/**
 * light-my-request, handed an express app, re-parents express's shared request/response prototypes
 * onto its own classes ("express detection"): every express server in the process then fails on
 * real sockets. Instead we hand it a plain function that runs the app with private prototypes:
 * express's methods over light-my-request's classes, for this app and these injections only.
 */
function isolatedDispatch(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  const app = handler as ExpressLike;
  if (!app.request || !app.response || typeof app.handle !== 'function') return handler;
  let injected: object | undefined;
  const derive = (base: object, expressProto: object): object =>
    Object.create(Object.create(base, Object.getOwnPropertyDescriptors(expressProto)), {
      app: { value: app, configurable: true, enumerable: true, writable: true },
    });
  return (req, res) => {
    injected ??= Object.create(app, {
      request: { value: derive(Object.getPrototypeOf(req) as object, Object.getPrototypeOf(app.request) as object) },
      response: { value: derive(Object.getPrototypeOf(res) as object, Object.getPrototypeOf(app.response) as object) },
    }) as object;
    app.handle!.call(injected, req, res);
  };
}
