import { AsyncLocalStorage, AsyncResource, createHook, type AsyncHook } from 'node:async_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A resource a tracked call created that is still alive: a timer neither cleared nor done (unref'd or
 * not: it still fires), a handle not closed that keeps the process up (ref'd), a request not completed.
 */
export interface OpenResource {
  /** The async_hooks type: `Timeout`, `Immediate`, `TCPSERVERWRAP`, `TCPWRAP`, `FSREQCALLBACK`... */
  readonly type: string;
  /** Where it was created: the first stack frame outside Node and this kit, if any. */
  readonly createdAt: string | undefined;
}

type Kind = 'timer' | 'handle' | 'request';

/** Where a resource was created: a stack V8 formats only when read (for a leak), and its trigger's origin. */
interface Origin {
  readonly site: { stack?: string };
  readonly parent: Origin | undefined;
}

interface Tracked {
  readonly type: string;
  readonly kind: Kind;
  readonly resource: WeakRef<object>;
  readonly origin: Origin;
}

/**
 * libuv requests the loop waits for (Node's own types); they end by themselves and are destroyed once
 * their callback has run. Other native resources without `hasRef()` (zlib streams, HTTP parsers, TLS,
 * crypto jobs, the DNS channel) hold no loop reference of their own and are destroyed only by the
 * garbage collector, so following them would make the check depend on when it runs.
 */
const REQUEST_TYPES = new Set([
  'FSREQCALLBACK',
  'FSREQPROMISE',
  'GETADDRINFOREQWRAP',
  'GETNAMEINFOREQWRAP',
  'QUERYWRAP',
  'PIPECONNECTWRAP',
  'TCPCONNECTWRAP',
  'SHUTDOWNWRAP',
  'WRITEWRAP',
  'UDPSENDWRAP',
]);

const KIT_FILES = [fileURLToPath(import.meta.url), fileURLToPath(new URL('./conformance.js', import.meta.url))];

/**
 * Follows the async resources created inside {@link ResourceTracker.run} and by their async
 * descendants (through AsyncLocalStorage, and through the trigger id for resources Node creates
 * outside any context, such as a server's accepted connections), and tells which are still alive
 * (see {@link OpenResource}). Resources created elsewhere in the process (the test runner's timers, other
 * tests' servers) are never seen, so they can neither hide a leak nor make one up.
 */
export class ResourceTracker {
  readonly #context = new AsyncLocalStorage<ResourceTracker>();
  /** Every non-promise resource created in the tracked context and not yet destroyed, by async id. */
  readonly #ours = new Map<number, Origin>();
  readonly #tracked = new Map<number, Tracked>();
  readonly #hook: AsyncHook;
  #wake: (() => void) | undefined;

  constructor() {
    this.#hook = createHook({
      init: (asyncId, type, triggerAsyncId, resource) => {
        // Promises hold nothing open, and there are thousands of them in a boot.
        if (type === 'PROMISE') return;
        if (this.#context.getStore() !== this && !this.#ours.has(triggerAsyncId)) return;
        const origin = { site: captureSite(), parent: this.#ours.get(triggerAsyncId) };
        this.#ours.set(asyncId, origin);
        const kind = kindOf(type, resource);
        if (kind) this.#tracked.set(asyncId, { type, kind, resource: new WeakRef(resource), origin });
      },
      after: (asyncId) => {
        if (this.#ours.has(asyncId)) this.#wake?.();
      },
      destroy: (asyncId) => {
        this.#ours.delete(asyncId);
        if (this.#tracked.delete(asyncId)) this.#wake?.();
      },
    }).enable();
  }

  /** Calls `fn`, following the resources it and its async descendants create. */
  run<T>(fn: () => T): T {
    return this.#context.run(this, fn);
  }

  /** True when called from inside {@link run} (or an async descendant of it). */
  inside(): boolean {
    return this.#context.getStore() === this;
  }

  /** The tracked resources alive now. */
  open(): OpenResource[] {
    const out: OpenResource[] = [];
    for (const t of this.#tracked.values()) if (isAlive(t)) out.push({ type: t.type, createdAt: createdAt(t.origin) });
    return out;
  }

  /**
   * Waits until no tracked resource is alive, at most `ms`, then returns those that still are.
   * Woken by events, not by polling: each callback or destroy event of a tracked resource (an I/O read, a
   * close callback, a timer firing) is followed by two turns of the loop, after which closes it started
   * have run (close callbacks come after the check phase) and their destroy events have been delivered
   * (Node delivers them from an unref'd immediate, which runs only at the next check phase). A plugin
   * without a leak settles in a few turns; the deadline only bounds the cost of a real leak.
   */
  async settle(ms: number): Promise<OpenResource[]> {
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      this.#wake?.();
    }, ms);
    try {
      for (;;) {
        // Armed before the turns, so that an event during them is not missed.
        const woken = new Promise<void>((resolve) => (this.#wake = resolve));
        for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
        if (timedOut || this.#count() === 0) return this.open();
        await woken;
      }
    } finally {
      clearTimeout(deadline);
      this.#wake = undefined;
    }
  }

  /** Stops following resources. */
  dispose(): void {
    this.#hook.disable();
  }

  #count(): number {
    let n = 0;
    for (const t of this.#tracked.values()) if (isAlive(t)) n++;
    return n;
  }
}

function kindOf(type: string, resource: object): Kind | undefined {
  if (type === 'Timeout' || type === 'Immediate') return 'timer';
  // JS-level resources (HTTP messages, microtasks, stream helpers) wrap no libuv handle themselves.
  if (resource instanceof AsyncResource) return undefined;
  if (typeof (resource as { hasRef?: unknown }).hasRef === 'function') return 'handle';
  return REQUEST_TYPES.has(type) ? 'request' : undefined;
}

function isAlive(t: Tracked): boolean {
  // Destroyed ones have left the map: a timer is destroyed when cleared or done, a request once its
  // callback ran. A handle is destroyed a turn after its close callback; from that callback on `hasRef()`
  // is false. It is false too for an unref'd handle, which is not counted: JS cannot tell an idle one
  // (a disabled event loop delay monitor stays open until collected) from one still at work.
  if (t.kind !== 'handle') return true;
  const handle = t.resource.deref() as { hasRef(): boolean } | undefined;
  return handle?.hasRef() === true;
}

function captureSite(): { stack?: string } {
  const site: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  Error.captureStackTrace(site);
  Error.stackTraceLimit = limit;
  return site;
}

/**
 * The first frame outside Node and this kit, as `path:line:column` relative to the working directory.
 * A resource Node creates in a callback of its own (a server listening after a host lookup) has no
 * such frame: the place is then its trigger's.
 */
function createdAt(origin: Origin | undefined): string | undefined {
  for (; origin; origin = origin.parent) {
    const place = firstOwnFrame(origin.site.stack);
    if (place) return place;
  }
  return undefined;
}

function firstOwnFrame(stack: string | undefined): string | undefined {
  for (const line of stack?.split('\n').slice(1) ?? []) {
    // `    at fn (file:///a/b.js:1:2)` or `    at /a/b.js:1:2`; Node's own frames read `node:...`.
    const match = /\(([^()]+):(\d+):(\d+)\)$/.exec(line) ?? /^\s*at (?:async )?([^()\s]+):(\d+):(\d+)$/.exec(line);
    if (!match || match[1]!.startsWith('node:')) continue;
    const file = match[1]!.startsWith('file://') ? fileURLToPath(match[1]!) : match[1]!;
    if (KIT_FILES.includes(file)) continue;
    return `${path.relative(process.cwd(), file)}:${match[2]}:${match[3]}`;
  }
  return undefined;
}
