import { setTimeout as sleep } from 'node:timers/promises';
import { definePlugin } from '@gantry/core';
import { z } from 'zod';
import { SandboxErrors } from '../errors.js';

/**
 * Demo routes that show the request context at work: `GET /demo/wait?ms=` waits, honouring the
 * request deadline and the client going away (used to watch graceful shutdown drain requests).
 */
export const plugin = definePlugin({
  name: 'demo',
  version: '0.1.0',
  kernel: '^0.1.0',
  description: 'Sandbox demo routes',
  dependsOn: ['http'],
  config: z
    .object({
      maxWaitMs: z.number().int().positive().max(60_000).default(10_000).describe('Longest wait /demo/wait accepts'),
    })
    .strict(),
  register(ctx) {
    const query = z.object({ ms: z.coerce.number().int().min(0).max(ctx.config.maxWaitMs) }).strict();
    ctx.http.get(
      '/demo/wait',
      { summary: 'Waits ms milliseconds (deadline-aware)', tags: ['demo'], schema: { query }, meta: { public: true } },
      async (req) => {
        try {
          await sleep(req.query.ms, undefined, { signal: req.context.signal });
        } catch {
          throw SandboxErrors.WAIT_ABORTED(
            `the wait of ${req.query.ms} ms was cut by the request deadline or a disconnect`,
          );
        }
        return { waitedMs: req.query.ms };
      },
    );
    ctx.health.check(() => ({ status: 'up' }), { critical: false });
  },
});
