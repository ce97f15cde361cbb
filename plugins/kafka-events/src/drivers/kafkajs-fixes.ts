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
