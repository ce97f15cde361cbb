import {
  createKernel,
  resolvePlugin,
  silentLogger,
  tokenName,
  type Kernel,
  type KernelOptionsInput,
  type Logger,
  type Plugin,
  type PluginContext,
  type Token,
} from '@gantry/core';
import { HttpServerToken } from '@gantry/http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { inject as lightInject, type InjectOptions, type Response as InjectResponse } from 'light-my-request';
import { TestingErrors } from './errors.js';

/**
 * A provided token and what the test puts in its place (e.g. a ts-mockito `instance(mock)`): the
 * plugin still registers, but every consumer of the token gets the replacement.
 */
// biome-ignore lint/suspicious/noExplicitAny: each pair has its own token type; `replacing()` checks one pair.
export type Replacement = readonly [Token<any>, unknown];

/** A type-checked {@link Replacement}: `replacing(MailerToken, instance(mailer))`. */
export function replacing<T>(token: Token<T>, value: T): Replacement {
  return [token, value];
}

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
  /**
   * Tokens to replace: `[[MailerToken, instance(mailer)], ...]`. The replacement wins over what the
   * providing plugin binds (consumers that resolve the token in their register() get it too); a token
   * no enabled plugin provides is refused (GANTRY_TESTING_REPLACE_UNPROVIDED), so a typo cannot
   * leave the real service in place. For unit tests: integration tests keep real services.
   */
  readonly replace?: readonly Replacement[];
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

/**
 * `GANTRY_HTTP__ENGINE` of this process, passed on to every test kernel: a whole suite runs on the
 * fastify engine with `GANTRY_HTTP__ENGINE=fastify` (the kernels' environment is otherwise their own).
 */
export function engineUnderTest(): Record<string, string> {
  const engine = process.env.GANTRY_HTTP__ENGINE;
  return engine ? { GANTRY_HTTP__ENGINE: engine } : {};
}

/** Builds (and by default starts) a kernel with the given plugins and options; see {@link TestKernel}. */
export async function createTestKernel(options: TestKernelOptions): Promise<TestKernel> {
  const list = options.replace?.length ? await withReplacements(options) : options.plugins;
  const values = list.filter((p): p is Plugin => typeof p !== 'string');
  const config: Record<string, Record<string, unknown>> = {};
  list.forEach((p, i) => {
    const key = typeof p === 'string' ? p : p.name;
    const given = options.plugins[i]!;
    const written = typeof given === 'string' ? given : given.name;
    config[key] = {
      ...(key === 'http' ? { listen: false } : {}),
      ...(options.config?.[key] ?? options.config?.[written] ?? {}),
    };
  });
  const kernel = await createKernel({
    appDir: options.appDir,
    config: { plugins: config },
    profile: options.profile ?? 'embedded',
    env: { ...engineUnderTest(), ...options.env },
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

/**
 * The plugin list with each plugin that provides a replaced token wrapped: its register() runs as
 * written, and `ctx.provide` binds the replacement instead of its value. Specifiers are resolved to
 * their plugins here (to know what they provide); a replaced token nobody provides is refused.
 */
async function withReplacements(options: TestKernelOptions): Promise<Plugin[]> {
  const replacements = new Map<symbol, unknown>();
  for (const [t, value] of options.replace ?? []) {
    if (replacements.has(t))
      throw TestingErrors.REPLACE_TWICE(`createTestKernel: token "${tokenName(t)}" is replaced twice`);
    replacements.set(t, unthenable(value));
  }
  const plugins = await Promise.all(
    options.plugins.map(async (p) => {
      if (typeof p !== 'string') return p;
      const found = await resolvePlugin(p, options.appDir ?? process.cwd());
      if (!found.ok) throw new Error(found.problem);
      return found.value.plugin;
    }),
  );
  const provided = new Set<symbol>(plugins.flatMap((p) => [...(p.provides ?? [])]));
  const unprovided = [...replacements.keys()].filter((t) => !provided.has(t));
  if (unprovided.length)
    throw TestingErrors.REPLACE_UNPROVIDED(
      `createTestKernel: no enabled plugin provides ${unprovided.map((t) => `"${tokenName(t as Token<unknown>)}"`).join(', ')}, so replacing it would change nothing (enabled: ${plugins.map((p) => p.name).join(', ')})`,
    );
  return plugins.map((p) =>
    (p.provides ?? []).some((t) => replacements.has(t))
      ? (Object.freeze({
          ...p,
          register(ctx: PluginContext<unknown>) {
            // The plugin's own context, with provide() swapping in the replacement (getters such as
            // ctx.http stay the kernel's: they read no `this`).
            const swapped = Object.create(ctx, {
              provide: {
                value: <T>(t: Token<T>, value: T): void =>
                  ctx.provide(t, (replacements.has(t) ? replacements.get(t) : value) as T),
              },
            }) as PluginContext<unknown>;
            return p.register(swapped);
          },
        }) as Plugin)
      : p,
  );
}

/**
 * A ts-mockito mock of an interface answers every property, `then` included: awaited (or returned
 * from an async function, as plugins do with services they resolve) it would never settle. No
 * service is a promise, so a replacement's `then` is hidden.
 */
function unthenable(value: unknown): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return value;
  if (typeof (value as { then?: unknown }).then !== 'function') return value;
  return new Proxy(value, {
    get: (target, key, receiver) => (key === 'then' ? undefined : Reflect.get(target, key, receiver)),
  });
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
export function isolatedDispatch(
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
