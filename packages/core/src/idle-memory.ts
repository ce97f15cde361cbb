import { Script } from 'node:vm';

/** How often the embedder allocation that keeps V8's memory reducer working is made. */
export const IDLE_MEMORY_TICK_MS = 30_000;

let timer: NodeJS.Timeout | undefined;
let users = 0;

/**
 * Lets V8 give memory back once a process goes idle after a burst of work.
 *
 * V8's memory reducer runs a memory-reducing full collection (it also returns pooled pages to the
 * system) a few seconds after the allocation rate drops. In V8 13.1 and later (Node 24 and 26) it
 * reads the allocation rate of the embedder's C++ heap (cppgc) too, and a process that never
 * allocated there reports that rate as exactly 0, which the reducer takes for a high rate: it never
 * starts, and the heap a load grew stays committed until the next full collection, or its 100 s
 * watchdog once no full collection happens (V8 issue 570738027, nodejs/node issue 66564). A
 * `node:vm` script is the one object Node core allocates on the C++ heap, so compiling a tiny one
 * now and every 30 s keeps that rate just above 0: the reducer then sees an idle process as idle. It
 * changes nothing while the process is busy (the other allocation rates are high then), costs one
 * cached compile every 30 s, and does not keep the process alive.
 *
 * Idempotent across callers (one timer per process); the returned function releases this caller's
 * hold, and the timer stops when every caller has released it. `runMain` calls it when it serves.
 */
export function keepMemoryReducerAwake(): () => void {
  users++;
  if (timer === undefined) {
    tick();
    timer = setInterval(tick, IDLE_MEMORY_TICK_MS);
    timer.unref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    users--;
    if (users === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

function tick(): void {
  new Script('0', { filename: 'gantry:memory-reducer' });
}
