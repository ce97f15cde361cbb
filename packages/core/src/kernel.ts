import { describeIssues, mergeEnvOverrides, deepFreeze, type KernelOptions } from './config.js';
import {
  changedPaths,
  type ConfigChangeRecord,
  type ConfigLayer,
  type ConfigSource,
  type Unsubscribe,
} from './config-source.js';
import { TsyringeContainer, type Container } from './container.js';
import { CoreErrors } from './errors.js';
import { EventBusToken, InProcessEventBus, type EventBus } from './events.js';
import { GantryError, withFix } from './gantry-error.js';
import { HealthRegistry } from './health.js';
import {
  HealthRegistryToken,
  KernelInfoToken,
  LoggerToken,
  type KernelInfo,
  type TimelineEntry,
} from './kernel-info.js';
import { createLogger, type Logger } from './logger.js';
import type { ConfigChangeDecision, LifecycleHook, Plugin, PluginContext } from './plugin.js';
import { resolveConfig, type ResolveConfigOptions } from './setup.js';
import { tokenName, type Token } from './token.js';
import { HttpTransportToken, type HttpRouter } from './transport.js';
import { KERNEL_VERSION } from './version.js';

export {
  HealthRegistryToken,
  KernelInfoToken,
  LoggerToken,
  type KernelInfo,
  type TimelineEntry,
} from './kernel-info.js';

/** How to build a kernel. Everything is optional: by default it reads `gantry.config.*` from `appDir`. */
export interface CreateKernelOptions extends ResolveConfigOptions {
  /** The kernel's logger (default: pino at the resolved level). */
  readonly logger?: Logger;
}

interface Entry {
  readonly plugin: Plugin;
  readonly specifier: string;
  /** The options in effect (replaced by an applied or restart config change). */
  options: unknown;
  /** The local options before validation (file, profile, env): remote layers go on top of it. */
  readonly input: Readonly<Record<string, unknown>>;
  readonly container: Container;
  /** The config source this plugin's `configSource` factory built. */
  source?: ConfigSource;
  unwatch?: Unsubscribe;
  /** The last remote problem reported for this plugin (not logged again while it stays the same). */
  lastInvalid?: string;
  readonly logger: Logger;
  readonly hooks: LifecycleHook[];
  router?: HttpRouter;
}

interface StartedHook {
  readonly entry: Entry;
  readonly hook: LifecycleHook;
}

type State = 'created' | 'registering' | 'registered' | 'starting' | 'started' | 'stopping' | 'stopped' | 'failed';

/**
 * Loads the config, resolves every enabled plugin and checks the whole setup ({@link resolveConfig}),
 * collecting every problem (unknown plugin, kernel range, missing dependency, cycle, unprovided token,
 * invalid options) into one GANTRY_CORE_BOOT_INVALID error. Nothing is registered or started yet.
 */
export async function createKernel(options: CreateKernelOptions = {}): Promise<Kernel> {
  const setup = await resolveConfig(options);
  const { problems } = setup;
  if (problems.length > 0) {
    throw CoreErrors.BOOT_INVALID(
      `the application cannot start: ${problems.length} problem${problems.length > 1 ? 's' : ''}\n  - ${problems.join('\n  - ')}`,
      {
        details: { problems, codes: setup.codes },
      },
    );
  }
  const fallback = options.logger ?? createLogger({ level: setup.logLevel });
  const logger = providedLogger(setup, fallback) ?? fallback;
  return new Kernel({
    appDir: setup.configDir,
    profile: setup.profile,
    logger,
    kernelOptions: setup.kernel.options,
    ordered: setup.plugins.map((p) => ({
      plugin: p.plugin,
      specifier: p.specifier,
      options: p.options,
      input: p.input,
    })),
  });
}

/**
 * The logger of the enabled plugin that provides one ({@link PluginDefinition.logger}), built before
 * anything registers so every plugin gets it; undefined when none does (the default stays untouched).
 */
function providedLogger(setup: Awaited<ReturnType<typeof resolveConfig>>, fallback: Logger): Logger | undefined {
  const providers = setup.plugins.filter((p) => typeof p.plugin.logger === 'function');
  if (providers.length === 0) return undefined;
  if (providers.length > 1) {
    const names = providers.map((p) => p.plugin.name);
    throw CoreErrors.BOOT_INVALID(
      `the application cannot start: ${names.length} enabled plugins replace the logger (${names.join(', ')})`,
      {
        fix: 'enable at most one logger plugin',
        details: { problems: [`several logger plugins: ${names.join(', ')}`] },
      },
    );
  }
  const { plugin, options } = providers[0]!;
  try {
    return plugin.logger!(options as never, {
      profile: setup.profile,
      appDir: setup.configDir,
      level: setup.logLevel,
      fallback,
    });
  } catch (err) {
    throw CoreErrors.REGISTER_FAILED(
      `plugin "${plugin.name}": its logger could not be built: ${(err as Error)?.message ?? String(err)}`,
      { cause: err, details: { plugin: plugin.name, phase: 'logger' } },
    );
  }
}

/** A checked application: start it, run a command, stop it. Two kernels in one process share nothing. */
export class Kernel implements AsyncDisposable {
  readonly container: Container;
  readonly health = new HealthRegistry();
  readonly logger: Logger;
  readonly profile: string;
  readonly appDir: string;
  readonly options: KernelOptions;
  private readonly entries: Entry[];
  private started: StartedHook[] = [];
  /** Remote layers by the name of the plugin whose source produced them, in start order of those plugins. */
  private readonly remoteLayers = new Map<string, ConfigLayer>();
  /** Plugins whose hooks are restarting (or failed to restart): their routes answer 503. */
  private readonly restarting = new Set<string>();
  private readonly changeLog: ConfigChangeRecord[] = [];
  /** Config changes run one at a time, in arrival order. */
  private changes: Promise<void> = Promise.resolve();
  private readonly entryTimeline: TimelineEntry[] = [];
  private readonly commands = new Map<
    string,
    { plugin: string; description?: string; run: (args: readonly string[]) => Promise<number | void> | number | void }
  >();
  private state: State = 'created';
  private stopping: Promise<void> | undefined;
  private startup: Promise<void> | undefined;

  /** @internal use {@link createKernel}. */
  constructor(init: {
    appDir: string;
    profile: string;
    logger: Logger;
    kernelOptions: KernelOptions;
    ordered: {
      plugin: Plugin;
      specifier: string;
      options: unknown;
      input?: Readonly<Record<string, unknown>>;
    }[];
  }) {
    this.appDir = init.appDir;
    this.profile = init.profile;
    this.logger = init.logger;
    this.options = init.kernelOptions;
    this.container = TsyringeContainer.createRoot('kernel');
    const info: KernelInfo = {
      version: KERNEL_VERSION,
      profile: this.profile,
      appDir: this.appDir,
      plugins: init.ordered.map((o) => o.plugin.name),
      timeline: () => this.entryTimeline,
      isRestarting: (plugin) => this.restarting.has(plugin),
    };
    this.container.bindValue(KernelInfoToken, info);
    this.container.bindValue(HealthRegistryToken, this.health);
    this.container.bindValue(LoggerToken, this.logger);
    const bus: EventBus = new InProcessEventBus((err, event) =>
      this.logger.error({ err, topic: event.topic }, 'event handler failed'),
    );
    this.container.bindValue(EventBusToken, bus);
    this.entries = init.ordered.map((o) => ({
      plugin: o.plugin,
      specifier: o.specifier,
      options: o.options,
      input: o.input ?? (o.options as Record<string, unknown>) ?? {},
      container: (this.container as TsyringeContainer).createChild(`plugin "${o.plugin.name}"`),
      logger: this.logger.child({ plugin: o.plugin.name }),
      hooks: [],
    }));
    // Sources are built now (factories do no I/O), loaded at start, watched once started.
    const pluginNames = this.entries.map((e) => e.plugin.name);
    for (const entry of this.entries) {
      if (!entry.plugin.configSource) continue;
      entry.source = entry.plugin.configSource(entry.options as never, {
        profile: this.profile,
        appDir: this.appDir,
        plugins: pluginNames,
        logger: entry.logger,
      });
    }
  }

  /** The options a plugin runs with now (after any applied or restart config change). */
  optionsOf(plugin: string): unknown {
    return this.entries.find((e) => e.plugin.name === plugin)?.options;
  }

  /** The last config changes from remote sources (at most 100), oldest first. */
  configChanges(): readonly ConfigChangeRecord[] {
    return this.changeLog;
  }

  /** Enabled plugins in start order. */
  get pluginNames(): readonly string[] {
    return this.entries.map((e) => e.plugin.name);
  }

  /** Register, start and serve timings so far. */
  timeline(): readonly TimelineEntry[] {
    return this.entryTimeline;
  }

  /** Resolves a token from the kernel's container (what plugins provide). */
  get<T>(t: Token<T>): T {
    return this.container.get(t);
  }

  /**
   * Registers every plugin in dependency order, then runs start hooks in that order, then serve
   * hooks. On any failure the hooks that started are stopped in reverse and the error is thrown.
   * With `serve: false` serve hooks are skipped (commands such as migrations).
   */
  async start(options: { serve?: boolean } = {}): Promise<void> {
    if (this.state !== 'created' && this.state !== 'registered')
      throw CoreErrors.KERNEL_STATE(`kernel.start() called in state "${this.state}"`, {
        fix: 'create a new kernel for each start',
      });
    const startup = this.startPlugins(options);
    // stop() during start waits for the hook in progress before stopping (see stop()).
    this.startup = startup.catch(() => undefined);
    return startup;
  }

  /**
   * Registers every plugin in dependency order and starts nothing: routes, commands, tokens and
   * health checks become visible, no I/O happens (tools such as `gantry routes` read them). `start()`
   * continues from here; `stop()` releases the kernel. A failed registration leaves it unusable.
   */
  async register(): Promise<void> {
    if (this.state !== 'created')
      throw CoreErrors.KERNEL_STATE(`kernel.register() called in state "${this.state}"`, {
        fix: 'call register() once, on a new kernel, before start()',
      });
    try {
      await this.registerAll(() => undefined);
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  private async registerAll(assertNotStopping: () => void): Promise<void> {
    this.state = 'registering';
    for (const entry of this.entries) {
      assertNotStopping();
      await this.registerOne(entry);
    }
    this.state = 'registered';
  }

  private async startPlugins(options: { serve?: boolean }): Promise<void> {
    const t0 = performance.now();
    // A stop() (e.g. SIGTERM during boot) ends the start between two steps: nothing more starts.
    const assertNotStopping = (): void => {
      if (this.stopping !== undefined)
        throw CoreErrors.KERNEL_STATE('kernel.stop() was called during start: the remaining plugins were not started');
    };
    const loadedBeforeRegister = this.state === 'created';
    try {
      if (loadedBeforeRegister) {
        await this.loadRemoteSources();
        assertNotStopping();
        await this.registerAll(assertNotStopping);
      }
      assertNotStopping();
      this.state = 'starting';
      const runHooks = this.entries.flatMap((entry) =>
        entry.hooks.filter((h) => (h.phase ?? 'run') === 'run').map((hook) => ({ entry, hook })),
      );
      const serveHooks =
        options.serve === false
          ? []
          : this.entries.flatMap((entry) =>
              entry.hooks.filter((h) => h.phase === 'serve').map((hook) => ({ entry, hook })),
            );
      for (const sh of [...runHooks, ...serveHooks]) {
        assertNotStopping();
        if (sh.hook.start) await this.timed(sh.entry, 'start', sh.hook, sh.hook.start);
        this.started.push(sh);
      }
      assertNotStopping();
    } catch (err) {
      this.state = 'failed';
      this.logger.error({ err: serializeError(err) }, 'boot failed; stopping what started');
      await this.stopStarted().catch((stopErr: unknown) =>
        this.logger.error({ err: serializeError(stopErr) }, 'stop after failed boot also failed'),
      );
      throw err;
    }
    this.state = 'started';
    this.health.setState({ started: true });
    this.watchRemoteSources(loadedBeforeRegister);
    const total = Math.round(performance.now() - t0);
    this.logger.info(
      { totalMs: total, timeline: this.summaryTimeline() },
      `started ${this.entries.length} plugins in ${total} ms (profile ${this.profile})`,
    );
  }

  /** Runs a command registered by a plugin; the kernel must be started (serve not needed). */
  async runCommand(name: string, args: readonly string[] = []): Promise<number> {
    const cmd = this.commands.get(name);
    if (!cmd) {
      const known = [...this.commands.keys()].join(', ') || 'none';
      throw CoreErrors.BAD_REQUEST(`unknown command "${name}" (known: ${known})`, {
        fix: 'run one of the known commands, or enable the plugin that registers it',
      });
    }
    const code = await cmd.run(args);
    return typeof code === 'number' ? code : 0;
  }

  /** Commands registered by plugins. */
  commandNames(): readonly string[] {
    return [...this.commands.keys()];
  }

  /**
   * Stops in exact reverse order the hooks that started (serve hooks first), each bounded by its
   * timeout. Every hook is attempted; failures are reported together. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.state === 'created' || this.state === 'stopped') {
      this.state = 'stopped';
      return;
    }
    this.stopping ??= (async () => {
      this.state = 'stopping';
      this.health.setState({ shuttingDown: true });
      try {
        // No more config changes; one in progress (a restart) finishes first.
        await this.unwatchRemoteSources();
        await this.changes;
        // A start in progress finishes its current hook (bounded by its timeout) and starts nothing more.
        await this.startup;
        await this.stopStarted();
      } finally {
        this.state = 'stopped';
        await this.container.dispose().catch(() => undefined);
        this.logger.flush?.();
      }
    })();
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Installs SIGTERM/SIGINT handling: readiness turns false at once, then the kernel stops (serve
   * hooks drain in-flight requests), and the process exits 0. A second signal, a failed stop or the
   * shutdownTimeoutMs deadline exit non-zero. Returns a function that removes the handlers.
   */
  handleSignals(exit: (code: number) => void = (code) => process.exit(code)): () => void {
    let received = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      received++;
      if (received > 1) {
        this.logger.error({ signal }, 'second signal during shutdown: exiting now');
        this.logger.flush?.();
        exit(130);
        return;
      }
      this.logger.info({ signal, deadlineMs: this.options.shutdownTimeoutMs }, 'shutting down gracefully');
      this.health.setState({ shuttingDown: true });
      const deadline = setTimeout(() => {
        this.logger.error(
          { code: CoreErrors.SHUTDOWN_TIMEOUT.code },
          withFix(
            `graceful shutdown did not finish within ${this.options.shutdownTimeoutMs} ms`,
            CoreErrors.SHUTDOWN_TIMEOUT.spec.fix,
          ),
        );
        this.logger.flush?.();
        exit(1);
      }, this.options.shutdownTimeoutMs);
      deadline.unref();
      this.stop().then(
        () => {
          clearTimeout(deadline);
          this.logger.info('stopped');
          this.logger.flush?.();
          exit(0);
        },
        (err: unknown) => {
          clearTimeout(deadline);
          this.logger.error({ err: serializeError(err) }, 'shutdown failed');
          this.logger.flush?.();
          exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    return () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    };
  }

  private async registerOne(entry: Entry): Promise<void> {
    const { plugin } = entry;
    const ctx = this.contextFor(entry);
    const t0 = performance.now();
    try {
      await withTimeout(
        Promise.resolve().then(() => plugin.register(ctx as PluginContext<never>)),
        this.options.hookTimeoutMs,
        () =>
          CoreErrors.HOOK_TIMEOUT(
            `plugin "${plugin.name}": register() did not finish within ${this.options.hookTimeoutMs} ms`,
            { details: { plugin: plugin.name, phase: 'register' } },
          ),
      );
    } catch (err) {
      if (CoreErrors.HOOK_TIMEOUT.is(err)) throw err;
      throw CoreErrors.REGISTER_FAILED(
        `plugin "${plugin.name}": register() failed: ${(err as Error)?.message ?? String(err)}`,
        { cause: err, details: { plugin: plugin.name } },
      );
    }
    this.entryTimeline.push({ plugin: plugin.name, phase: 'register', ms: round(performance.now() - t0) });
    for (const t of plugin.provides ?? []) {
      if (!this.container.has(t)) {
        throw CoreErrors.REGISTER_FAILED(
          `plugin "${plugin.name}" declares it provides "${tokenName(t)}" but register() did not bind it`,
          { fix: `call ctx.provide(${tokenName(t)}, value) in register()` },
        );
      }
    }
  }

  private contextFor(entry: Entry): PluginContext<unknown> {
    const { plugin } = entry;
    const kernel = this;
    const provides = new Set<symbol>(plugin.provides ?? []);
    return {
      name: plugin.name,
      get config(): Readonly<unknown> {
        return entry.options as Readonly<unknown>;
      },
      configSource: entry.source,
      profile: this.profile,
      appDir: this.appDir,
      logger: entry.logger,
      container: entry.container,
      provide<T>(t: Token<T>, value: T): void {
        if (!provides.has(t)) {
          throw CoreErrors.TOKEN_NOT_PROVIDED(
            `plugin "${plugin.name}" provides "${tokenName(t)}" without declaring it`,
            { details: { plugin: plugin.name, token: tokenName(t) } },
          );
        }
        kernel.container.bindValue(t, value);
      },
      lifecycle: {
        hook(hook: LifecycleHook): void {
          if (kernel.state !== 'registering')
            throw CoreErrors.KERNEL_STATE(
              `plugin "${plugin.name}": lifecycle.hook("${hook.name}") called after register()`,
              { fix: 'declare hooks inside register()' },
            );
          entry.hooks.push(hook);
        },
      },
      health: {
        check(fn, options = {}): void {
          kernel.health.add({
            name: options.name ? `${plugin.name}:${options.name}` : plugin.name,
            plugin: plugin.name,
            critical: options.critical ?? true,
            timeoutMs: options.timeoutMs ?? 2_000,
            check: fn,
          });
        },
      },
      get http(): HttpRouter {
        if (entry.router) return entry.router;
        const transport = kernel.container.tryGet(HttpTransportToken);
        if (!transport || ![...(plugin.dependsOn ?? []), ...(plugin.optionalDependsOn ?? [])].includes('http')) {
          throw CoreErrors.HTTP_UNAVAILABLE(
            `plugin "${plugin.name}" uses ctx.http but ${transport ? 'does not list "http" in dependsOn (or optionalDependsOn)' : 'no HTTP transport is enabled'}`,
          );
        }
        entry.router = transport.routerFor(plugin.name);
        return entry.router;
      },
      events: {
        publish: (event) => kernel.container.get(EventBusToken).publish(event),
        subscribe: (topic, handler) => kernel.container.get(EventBusToken).subscribe(topic, handler),
      },
      command(name, run, description): void {
        const existing = kernel.commands.get(name);
        if (existing)
          throw CoreErrors.REGISTER_FAILED(
            `command "${name}" is registered by "${existing.plugin}" and "${plugin.name}"`,
            { fix: 'rename one of them' },
          );
        kernel.commands.set(name, { plugin: plugin.name, description, run });
      },
    };
  }

  private async timed(
    entry: Entry,
    phase: 'start' | 'stop',
    hook: LifecycleHook,
    fn: () => Promise<void> | void,
  ): Promise<void> {
    const limit = hook.timeoutMs ?? this.options.hookTimeoutMs;
    const t0 = performance.now();
    try {
      await withTimeout(Promise.resolve().then(fn), limit, () =>
        CoreErrors.HOOK_TIMEOUT(
          `plugin "${entry.plugin.name}": ${phase} hook "${hook.name}" did not finish within ${limit} ms`,
          { details: { plugin: entry.plugin.name, hook: hook.name, phase } },
        ),
      );
    } catch (err) {
      if (CoreErrors.HOOK_TIMEOUT.is(err)) throw err;
      throw CoreErrors.HOOK_FAILED(
        `plugin "${entry.plugin.name}": ${phase} hook "${hook.name}" failed: ${(err as Error)?.message ?? String(err)}`,
        {
          cause: err,
          details: { plugin: entry.plugin.name, hook: hook.name, phase },
        },
      );
    } finally {
      this.entryTimeline.push({ plugin: entry.plugin.name, phase, hook: hook.name, ms: round(performance.now() - t0) });
    }
  }

  private async stopStarted(): Promise<void> {
    const failures: GantryError[] = [];
    while (this.started.length > 0) {
      const { entry, hook } = this.started.pop()!;
      if (!hook.stop) continue;
      try {
        await this.timed(entry, 'stop', hook, hook.stop);
      } catch (err) {
        const e = err as GantryError;
        failures.push(e);
        this.logger.error({ err: serializeError(e), plugin: entry.plugin.name, hook: hook.name }, 'stop hook failed');
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw CoreErrors.HOOK_FAILED(
        `${failures.length} stop hooks failed:\n  - ${failures.map((f) => f.message).join('\n  - ')}`,
        { details: { failures: failures.map((f) => f.message) } },
      );
    }
  }

  /**
   * Loads every plugin's config source (bounded by hookTimeoutMs) and layers what they hold above the
   * environment, before any plugin registers. A source that throws fails the boot; a remote value a
   * plugin's schema refuses is logged and the local options are kept.
   */
  private async loadRemoteSources(): Promise<void> {
    const sourced = this.entries.filter((e) => e.source);
    if (sourced.length === 0) return;
    for (const entry of sourced) {
      const source = entry.source!;
      const t0 = performance.now();
      try {
        const layer = await withTimeout(source.load(), this.options.hookTimeoutMs, () =>
          CoreErrors.CONFIG_SOURCE_FAILED(
            `plugin "${entry.plugin.name}": config source ${source.name} did not load within ${this.options.hookTimeoutMs} ms`,
          ),
        );
        this.remoteLayers.set(entry.plugin.name, layer ?? {});
      } catch (err) {
        if (CoreErrors.CONFIG_SOURCE_FAILED.is(err)) throw err;
        throw CoreErrors.CONFIG_SOURCE_FAILED(
          `plugin "${entry.plugin.name}": config source ${source.name} failed to load: ${(err as Error)?.message ?? String(err)}`,
          { cause: err, details: { plugin: entry.plugin.name, source: source.name } },
        );
      } finally {
        this.entryTimeline.push({
          plugin: entry.plugin.name,
          phase: 'start',
          hook: 'config-source',
          ms: round(performance.now() - t0),
        });
      }
    }
    for (const entry of this.entries) {
      const next = this.remoteOptions(entry);
      if (next.kind === 'invalid') this.recordInvalid(entry, next.keys, next.reason, 'at boot');
      else if (next.kind === 'valid') entry.options = next.value;
    }
  }

  /** The options of a plugin with every remote layer above its local input, validated. */
  private remoteOptions(
    entry: Entry,
  ): { kind: 'none' } | { kind: 'valid'; value: unknown } | { kind: 'invalid'; keys: string[]; reason: string } {
    const schema = entry.plugin.config;
    const overlays = [...this.remoteLayers.values()]
      .map((layer) => layer[entry.plugin.name])
      .filter((o): o is Readonly<Record<string, unknown>> => o !== undefined && o !== null);
    if (!schema) return { kind: 'none' };
    let input: Record<string, unknown> = { ...entry.input };
    for (const overlay of overlays) input = mergeEnvOverrides(schema, input, overlay);
    const parsed = schema.safeParse(input);
    if (!parsed.success) {
      return {
        kind: 'invalid',
        keys: parsed.error.issues.map((i) => i.path.join('.') || '(options)'),
        reason: describeIssues(parsed.error.issues, input, schema).join('; '),
      };
    }
    return { kind: 'valid', value: deepFreeze(parsed.data) };
  }

  private watchRemoteSources(loadedBeforeRegister: boolean): void {
    for (const entry of this.entries) {
      if (!entry.source) continue;
      const owner = entry.plugin.name;
      entry.unwatch = entry.source.watch((layer) => {
        this.changes = this.changes
          .then(() => this.applyLayer(owner, layer))
          .catch((err: unknown) =>
            this.logger.error({ err: serializeError(err), source: owner }, 'config change handling failed'),
          );
      });
      // A kernel registered before start (tools) did not layer the remote values yet: apply them now.
      if (!loadedBeforeRegister) {
        const source = entry.source;
        this.changes = this.changes
          .then(async () => this.applyLayer(owner, await source.load()))
          .catch((err: unknown) =>
            this.logger.error({ err: serializeError(err), source: owner }, 'config source failed to load'),
          );
      }
    }
  }

  private async unwatchRemoteSources(): Promise<void> {
    for (const entry of this.entries) {
      const unwatch = entry.unwatch;
      entry.unwatch = undefined;
      if (!unwatch) continue;
      try {
        await unwatch();
      } catch (err) {
        this.logger.warn({ err: serializeError(err), plugin: entry.plugin.name }, 'config source did not unwatch');
      }
    }
  }

  private record(rec: Omit<ConfigChangeRecord, 'at'>): void {
    this.changeLog.push({ ...rec, at: Date.now() });
    if (this.changeLog.length > 100) this.changeLog.shift();
  }

  private recordInvalid(entry: Entry, keys: string[], reason: string, when: string): void {
    this.record({ plugin: entry.plugin.name, decision: 'invalid', keys, reason });
    this.logger.warn(
      {
        plugin: entry.plugin.name,
        keys,
        reason,
        code: CoreErrors.CONFIG_CHANGE_REJECTED.code,
      },
      `config change for plugin "${entry.plugin.name}" rejected ${when}: ${reason}; the previous value stays in effect`,
    );
  }

  /**
   * One source's new layer: every plugin's options are recomputed and validated; each plugin whose
   * options changed decides (onConfigChange; reject without it). Restarts run after the decisions,
   * once, for the plugins that asked and their dependents.
   */
  private async applyLayer(owner: string, layer: ConfigLayer): Promise<void> {
    if (this.state !== 'started') return;
    this.remoteLayers.set(owner, layer ?? {});
    const toRestart = new Map<Entry, unknown>();
    for (const entry of this.entries) {
      const next = this.remoteOptions(entry);
      if (next.kind === 'none') continue;
      if (next.kind === 'invalid') {
        // Reported once per distinct problem: another plugin's change does not log this one again.
        if (entry.lastInvalid !== next.reason) this.recordInvalid(entry, next.keys, next.reason, `(from ${owner})`);
        entry.lastInvalid = next.reason;
        continue;
      }
      entry.lastInvalid = undefined;
      const keys = changedPaths(entry.options, next.value);
      if (keys.length === 0) continue;
      const hook = entry.plugin.onConfigChange;
      let decision: ConfigChangeDecision;
      if (!hook) {
        decision = 'reject';
      } else {
        try {
          decision = await withTimeout(
            Promise.resolve().then(() =>
              hook(entry.options as never, next.value as never, {
                name: entry.plugin.name,
                container: entry.container,
                logger: entry.logger,
                changed: keys,
              }),
            ),
            this.options.hookTimeoutMs,
            () =>
              CoreErrors.HOOK_TIMEOUT(
                `plugin "${entry.plugin.name}": onConfigChange did not finish within ${this.options.hookTimeoutMs} ms`,
              ),
          );
        } catch (err) {
          this.record({ plugin: entry.plugin.name, decision: 'failed', keys, reason: (err as Error).message });
          this.logger.error(
            { err: serializeError(err), plugin: entry.plugin.name, keys },
            `plugin "${entry.plugin.name}": onConfigChange failed; the previous value stays in effect`,
          );
          continue;
        }
      }
      if (decision === 'applied') {
        entry.options = next.value;
        this.record({ plugin: entry.plugin.name, decision: 'applied', keys });
        this.logger.info({ plugin: entry.plugin.name, keys }, `config change applied to plugin "${entry.plugin.name}"`);
      } else if (decision === 'restart') {
        toRestart.set(entry, next.value);
      } else {
        const reason = hook
          ? 'the plugin refused it (it cannot take this change while running: restart the process to apply it)'
          : 'the plugin does not take config changes while running (no onConfigChange): restart the process to apply it';
        this.record({ plugin: entry.plugin.name, decision: 'reject', keys, reason });
        this.logger.warn(
          { plugin: entry.plugin.name, keys, reason, code: CoreErrors.CONFIG_CHANGE_REJECTED.code },
          `config change for plugin "${entry.plugin.name}" rejected: ${reason}; the previous value stays in effect`,
        );
      }
    }
    if (toRestart.size > 0) await this.restartPlugins(toRestart);
  }

  /** The plugins that depend on any of `names` (dependsOn, optionalDependsOn, a required token they provide), transitively, with them. */
  private withDependents(names: ReadonlySet<string>): Set<string> {
    const out = new Set(names);
    for (const entry of this.entries) {
      // Start order is topological: a plugin's dependencies were visited before it.
      const p = entry.plugin;
      const provided = new Set<symbol>(
        this.entries.filter((e) => out.has(e.plugin.name)).flatMap((e) => e.plugin.provides ?? []),
      );
      const deps = [...(p.dependsOn ?? []), ...(p.optionalDependsOn ?? [])];
      if (deps.some((d) => out.has(d)) || (p.requires ?? []).some((t) => provided.has(t))) out.add(p.name);
    }
    return out;
  }

  /**
   * Stops the hooks of the plugins in `pending` and of their dependents in reverse start order, gives
   * the asking plugins their new options, and starts the hooks again in start order. Other plugins keep
   * running; the restarting ones' routes answer 503 meanwhile. A hook that fails to start leaves its
   * plugin stopped (503), logged.
   */
  private async restartPlugins(pending: Map<Entry, unknown>): Promise<void> {
    const asked = new Set([...pending.keys()].map((e) => e.plugin.name));
    const affected = this.withDependents(asked);
    const order = this.entries.filter((e) => affected.has(e.plugin.name)).map((e) => e.plugin.name);
    const keys = new Map([...pending].map(([e, v]) => [e, changedPaths(e.options, v)]));
    for (const name of order) this.restarting.add(name);
    const hooks = this.started.filter((sh) => affected.has(sh.entry.plugin.name));
    const t0 = performance.now();
    const failed = new Set<StartedHook>();
    this.logger.info(
      { plugins: order, asked: [...asked] },
      `restarting plugins ${order.join(', ')} for a config change`,
    );
    for (const sh of [...hooks].reverse()) {
      if (!sh.hook.stop) continue;
      try {
        await this.timed(sh.entry, 'stop', sh.hook, sh.hook.stop);
      } catch (err) {
        this.logger.error(
          { err: serializeError(err), plugin: sh.entry.plugin.name, hook: sh.hook.name },
          'stop hook failed during a config restart',
        );
      }
    }
    for (const [entry, value] of pending) entry.options = value;
    let broken: string | undefined;
    for (const sh of hooks) {
      if (broken !== undefined) {
        failed.add(sh);
        continue;
      }
      try {
        if (sh.hook.start) await this.timed(sh.entry, 'start', sh.hook, sh.hook.start);
      } catch (err) {
        failed.add(sh);
        broken = `${sh.entry.plugin.name}: ${(err as Error).message}`;
        this.logger.error(
          { err: serializeError(err), plugin: sh.entry.plugin.name, hook: sh.hook.name },
          'start hook failed during a config restart: the plugin and the ones after it stay stopped (503) until the next change or a process restart',
        );
      }
    }
    // Hooks that did not start again are not stopped at shutdown.
    this.started = this.started.filter((sh) => !failed.has(sh));
    const failedPlugins = new Set([...failed].map((sh) => sh.entry.plugin.name));
    for (const name of order) if (!failedPlugins.has(name)) this.restarting.delete(name);
    for (const [entry] of pending) {
      this.record({
        plugin: entry.plugin.name,
        decision: broken === undefined ? 'restart' : 'failed',
        keys: keys.get(entry) ?? [],
        restarted: order,
        ...(broken === undefined ? {} : { reason: broken }),
      });
    }
    this.logger.info(
      { plugins: order, ms: round(performance.now() - t0), failed: [...failedPlugins] },
      `restarted plugins ${order.join(', ')} for a config change`,
    );
  }

  private summaryTimeline(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const t of this.entryTimeline) if (t.phase !== 'stop') out[t.plugin] = round((out[t.plugin] ?? 0) + t.ms);
    return out;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Error → plain object for logs (message, code, stack, cause chain). */
export function serializeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  if (GantryError.is(err)) {
    out.code = err.code;
    if (Object.keys(err.details).length) out.details = err.details;
  }
  if (err.cause !== undefined) out.cause = serializeError(err.cause);
  return out;
}
