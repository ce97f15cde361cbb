// A small application plugin that audits from inside a request, the way HTTP-facing callers do:
// it passes req.ip, and sets the principal (as an auth plugin would) from a test header.
import { currentContext, definePlugin, type Plugin } from '@gantry/core';
import { AuditToken, type AuditRecordInput } from '../../src/index.js';

/** `POST /api/v1/probe/record` records its JSON body; header `x-test-user: <id>:<kind>` becomes the principal. */
export function probePlugin(): Plugin {
  return definePlugin({
    name: 'audit-probe',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http', 'audit'],
    requires: [AuditToken],
    register(ctx) {
      const audit = ctx.container.get(AuditToken);
      ctx.http.post('/probe/record', { status: 201 }, async (req) => {
        const user = req.headers['x-test-user'];
        if (typeof user === 'string') {
          const [id = '', kind = 'user'] = user.split(':');
          currentContext()!.principal = { id, kind, roles: ['admin'] };
        }
        return audit.record({ ...(req.body as AuditRecordInput), ip: req.ip });
      });
      ctx.health.check(() => ({ status: 'up' }), { critical: false });
    },
  });
}
