import { AsyncLocalStorage, createHook, type AsyncHook } from 'node:async_hooks';

/** A resource a tracked piece of code created and that is still alive. */
export interface LiveResource {
  /** The async resource type (`Timeout`, `TCPWRAP`, `TCPSERVERWRAP`, `FSREQCALLBACK`...). */
  readonly type: string;
  /** The first frames of the stack that created it, outside Node's internals and this kit. */
  readonly createdAt: string;
}

// What can keep the process alive or outlive the work that made it, and whose async_hooks destroy
// event is deterministic (emitted when it is cleared, fired, closed or done, not when collected):
// timers, immediates, sockets, servers, child processes, watchers, workers, ports, file and DNS
// requests. Left out: promises and ticks (never held), crypto jobs and the event-loop-delay
// histogram (destroyed only when collected, and never holding the loop), and SIGNALWRAP (one per
// signal for the whole process, made by whoever adds the first listener: a leaked process listener
// is what the no-global-state check reports).
const TRACKED = new Set([
  'Timeout',
  'Immediate',
  'TCPWRAP',
  'TCPSERVERWRAP',
  'TCPCONNECTWRAP',
  'PIPEWRAP',
  'PIPESERVERWRAP',
  'PIPECONNECTWRAP',
  'UDPWRAP',
  'PROCESSWRAP',
  'FSEVENTWRAP',
  'STATWATCHER',
  'TTYWRAP',
  'WORKER',
  'MESSAGEPORT',
  'FSREQCALLBACK',
  'FSREQPROMISE',
  'FILEHANDLE',
  'GETADDRINFOREQWRAP',
  'GETNAMEINFOREQWRAP',
  'QUERYWRAP',
  'ZLIB',
  'HTTPCLIENTREQUEST',
]);

/**
 * Tracks exactly the async resources created by code run through {@link track} and by everything
 * that code starts in turn (timers, sockets, servers, file requests, their callbacks' resources...),
 * with async_hooks: a resource is attributed by the async context it was created in, so resources
 * of unrelated code running at the same time (the test runner's timers, another suite's sockets
 * closing) are never counted, and none of them can hide a leak.
 */
export class ResourceTracker {
  private readonly context = new AsyncLocalStorage<ResourceTracker>();
  private readonly live = new Map<number, LiveResource>();
  private readonly hook: AsyncHook;
  private onDestroy: (() => void) | undefined;

  constructor() {
    this.hook = createHook({
      init: (asyncId, type) => {
        if (!TRACKED.has(type) || this.context.getStore() !== this) return;
        this.live.set(asyncId, { type, createdAt: creationSite() });
      },
      destroy: (asyncId) => {
        if (this.live.delete(asyncId)) this.onDestroy?.();
      },
    });
  }

  /** Runs `work` with tracking on: every resource it (transitively) creates is recorded until destroyed. */
  track<T>(work: () => Promise<T>): Promise<T> {
    this.hook.enable();
    return this.context.run(this, work);
  }

  /**
   * The tracked resources still alive once they had up to `settleMs` to close (sockets and timers
   * close on the next turns of the loop). Resolves as soon as none is left; then stops tracking.
   */
  async leftAlive(settleMs: number): Promise<LiveResource[]> {
    if (this.live.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, settleMs);
        this.onDestroy = () => {
          if (this.live.size > 0) return;
          clearTimeout(timer);
          resolve();
        };
      });
      this.onDestroy = undefined;
    }
    this.hook.disable();
    return [...this.live.values()];
  }

  /** Stops tracking without waiting (after a failure). */
  dispose(): void {
    this.onDestroy = undefined;
    this.hook.disable();
  }
}

/** Where a resource was created: the first frames outside Node's internals and this file. */
function creationSite(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 24;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frames = stack
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter(
      (l) => !l.includes('node:') && !l.includes('resource-tracker.js') && !l.includes('node_modules/light-my-request'),
    );
  return frames.slice(0, 3).join(' < ') || '(Node internals)';
}

/** "2 Timeout, 1 TCPWRAP" for a list of live resources. */
export function summarize(resources: readonly LiveResource[]): string {
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  return [...counts].map(([type, n]) => `${n} ${type}`).join(', ');
}
