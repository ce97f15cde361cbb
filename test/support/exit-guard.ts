import { createHook } from 'node:async_hooks';

/**
 * A mocha root hook for every suite: once the last test has run, mocha waits for the event loop to
 * empty before it exits. A socket, timer or child process a test left behind would hold it there for
 * ever, and CI would only see its time run out. This hook waits EXIT_GRACE_MS after the run; if the
 * process is still alive then, it names what holds it (process.getActiveResourcesInfo) and exits
 * with code 1, so a leak is a failed run with its cause. The timer is unref'd: it never keeps an
 * otherwise finished process alive.
 *
 * GANTRY_TEST_EXIT_TRACE=1 also records where each handle still open was created, and prints those
 * stacks: the way to find a leak the resource names alone do not place.
 */
const EXIT_GRACE_MS = Number(process.env.GANTRY_TEST_EXIT_GRACE_MS ?? 20_000);
const TRACED = new Set(['Timeout', 'TCPWRAP', 'PROCESSWRAP', 'PIPEWRAP', 'TCPSERVERWRAP', 'UDPWRAP']);

const origins = new Map<number, string>();
if (process.env.GANTRY_TEST_EXIT_TRACE === '1') {
  createHook({
    init(id, type) {
      if (TRACED.has(type)) origins.set(id, `${type}${new Error().stack?.split('\n').slice(2, 12).join('\n')}`);
    },
    destroy(id) {
      origins.delete(id);
    },
  }).enable();
}

export const mochaHooks = {
  afterAll(): void {
    setTimeout(() => {
      const held = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
      process.stderr.write(
        `exit-guard: the test process is still running ${EXIT_GRACE_MS} ms after the last test; ` +
          `it is held by: ${held.join(', ') || '(nothing node reports)'}\n`,
      );
      for (const origin of origins.values()) process.stderr.write(`exit-guard: still open: ${origin}\n`);
      process.exit(1);
    }, EXIT_GRACE_MS).unref();
  },
};
