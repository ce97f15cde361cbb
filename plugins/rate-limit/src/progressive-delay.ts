import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestContext } from '@gantry/core';
import type { DelayConfig } from './config.js';

/**
 * The delay of a request whose account counter stands at `used` (this request included): none up to
 * `after`, then `initialMs` doubling with each further counted request, at most `maxMs`.
 */
export function progressiveDelayMs(used: number, delay: DelayConfig): number {
  const over = used - delay.after;
  if (over <= 0) return 0;
  // 2^30 ms already exceeds any maxMs: the exponent is capped so that huge counts never overflow to Infinity.
  return Math.min(delay.maxMs, delay.initialMs * 2 ** Math.min(over - 1, 30));
}

/**
 * How long a request may actually be held: at most half the time left before its deadline, so the
 * handler keeps the other half and the delay alone never makes a request miss its deadline.
 */
export function delayWithinDeadline(
  wantedMs: number,
  context: Pick<RequestContext, 'remainingMs'> | undefined,
): number {
  if (!context) return wantedMs;
  return Math.max(0, Math.min(wantedMs, Math.floor(context.remainingMs() / 2)));
}

/**
 * Waits `ms` unless `signal` aborts first (the request's deadline passed or its client went away).
 * Resolves true when the wait ran to its end, false when it was cut short by the signal.
 */
export async function hold(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await sleep(ms, undefined, signal ? { signal } : {});
    return true;
  } catch (err) {
    if (signal?.aborted) return false;
    throw err;
  }
}
