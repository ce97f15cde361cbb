import { createRequire } from 'node:module';

/** The part of kafkajs's RequestQueue (src/network/requestQueue) this fix touches. */
interface RequestQueueInternals {
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  throttledUntil: number;
  pending: unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

const FIXED = Symbol.for('gantry.kafkajs.pendingCheckFixed');
/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL: how often a queue with waiting requests is looked at. */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

/**
 * kafkajs 2.2.4 (its last release) re-arms each broker connection's pending-request check for as long as
 * the connection lives, once any request has had to wait (with `maxInFlightRequests: 1`, the second of two
 * overlapping sends): with no request waiting and no throttle, `throttledUntil - Date.now()` is a large
 * negative delay, which Node turns into 1 ms (and reports as TimeoutNegativeWarning on Node 24). Measured
 * here: an idle idempotent producer woke ~890 times a second and spent ~33 ms of CPU a second doing nothing;
 * a connection that is never destroyed keeps that timer, and so its process, alive.
 * Upstream: tulios/kafkajs#1704 and #1751; the fix of pull request #1768, reviewed but never released, is
 * the one applied here: when no request waits and no throttle runs, nothing is scheduled (a request that
 * has to wait schedules the check again when it is queued, and each answer runs it).
 *
 * Applied once, to the kafkajs this package resolves, and only if the method still has the shape it fixes.
 * Returns whether the fix is in place.
 */
export function fixKafkajsPendingCheck(): boolean {
  let RequestQueue: { prototype: RequestQueueInternals & { [FIXED]?: true } } | undefined;
  try {
    RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js');
  } catch {
    return false;
  }
  const proto = RequestQueue?.prototype;
  if (!proto || typeof proto.scheduleCheckPendingRequests !== 'function') return false;
  if (proto[FIXED]) return true;
  if (!/throttledUntil - Date\.now\(\)/.test(String(proto.scheduleCheckPendingRequests))) return false;
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueInternals) {
    if (this.throttleCheckTimeoutId) return;
    const throttledFor = this.throttledUntil - Date.now();
    if (this.pending.length === 0 && throttledFor <= 0) return;
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL,
    );
  };
  proto[FIXED] = true;
  return true;
}

/** kafkajs's Encoder (src/protocol/encoder), as far as this fix touches it. */
interface EncoderClass {
  new (initialSize?: number): EncoderInternals;
  nextPowerOfTwo(value: number): number;
  prototype: EncoderInternals;
}
interface EncoderInternals {
  buf: Buffer;
  offset: number;
  ensureAvailable(length: number): void;
}

const POOLED = Symbol.for('gantry.kafkajs.encoderPooled');
/** Size of the zero-filled slabs encoders take their first buffers from; larger buffers are allocated alone. */
const SLAB_SIZE = 64 * 1024;
const SLAB_MAX_SLICE = 4 * 1024;

let slab = Buffer.alloc(0);
let slabUsed = 0;

/**
 * A zero-filled buffer of `size` bytes no other caller holds, as `Buffer.alloc` gives, cut from a
 * zero-filled slab when small (each slice handed out once, never reused: the slab's memory lives as
 * long as one of its slices does, as with Node's own pool for `Buffer.allocUnsafe`).
 */
function zeroed(size: number): Buffer {
  if (size > SLAB_MAX_SLICE) return Buffer.alloc(size);
  if (slabUsed + size > slab.length) {
    slab = Buffer.alloc(SLAB_SIZE);
    slabUsed = 0;
  }
  const slice = slab.subarray(slabUsed, slabUsed + size);
  slabUsed += (size + 7) & ~7; // 8-byte aligned, as Node aligns its pool
  return slice;
}

/**
 * kafkajs 2.2.4 starts every encoder with a fresh zero-filled 512-byte `Buffer.alloc`, and encodes
 * each record header and each record with an encoder of its own: eleven ArrayBuffer allocations for
 * a record with the driver's ten CloudEvents headers. Each costs ~1.2 µs on the development machine
 * (an ArrayBuffer's backing store, its accounting and its collection), more in a process with a
 * larger heap: measured in the relay, a third of the CPU spent per event. The fix makes the Encoder
 * take its first buffer, and its grown ones, from zero-filled slabs (`zeroed`): the same bytes and the
 * same guarantees as `Buffer.alloc` (zero-filled, never shared), one allocation per 64 KiB.
 *
 * The encoder class is swapped in the module cache, so it must run before kafkajs's modules load
 * (they capture the class when they do): the driver requires kafkajs after calling it, and code that
 * loads kafkajs itself before the driver keeps kafkajs's own Encoder. Applied once, only to an
 * Encoder of the shape it fixes and only if kafkajs is not loaded yet; returns whether the fix is in
 * place.
 */
export function fixKafkajsEncoderAllocation(): boolean {
  const require = createRequire(import.meta.url);
  let path: string;
  let main: string;
  try {
    path = require.resolve('kafkajs/src/protocol/encoder.js');
    main = require.resolve('kafkajs');
  } catch {
    return false;
  }
  const loaded = require.cache[path];
  if ((loaded?.exports as { [POOLED]?: true } | undefined)?.[POOLED]) return true;
  if (require.cache[main] !== undefined) return false;
  const Original = require(path) as EncoderClass;
  const source = String(Original);
  if (
    typeof Original !== 'function' ||
    !/this\.buf = Buffer\.alloc\(Encoder\.nextPowerOfTwo\(initialSize\)\)/.test(source) ||
    !/const newBuffer = Buffer\.alloc\(newLength\)/.test(String(Original.prototype.ensureAvailable))
  )
    return false;
  // A function constructor sharing the class's prototype and statics: `new Encoder(size)` as before.
  function Encoder(this: EncoderInternals, initialSize = 511): void {
    this.buf = zeroed(Original.nextPowerOfTwo(initialSize));
    this.offset = 0;
  }
  Object.setPrototypeOf(Encoder, Original);
  Encoder.prototype = Original.prototype;
  Original.prototype.ensureAvailable = function ensureAvailable(this: EncoderInternals, length: number): void {
    if (this.offset + length > this.buf.length) {
      const grown = zeroed(Original.nextPowerOfTwo(this.offset + length));
      this.buf.copy(grown, 0, 0, this.offset);
      this.buf = grown;
    }
  };
  Object.defineProperty(Encoder, POOLED, { value: true });
  require.cache[path]!.exports = Encoder;
  return true;
}
