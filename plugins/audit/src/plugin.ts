import { definePlugin, HttpTransportToken, packageVersion } from '@gantry/core';
import { auditQuerySchema } from './http.js';
import { DatabaseToken } from '@gantry/plugin-database';
import { AuditService } from './audit.js';
import { auditConfigSchema } from './config.js';
import { AuditEventEntity, auditMigrations } from './entity.js';
import { registerAuditMetrics } from './metrics.js';
import { AuditToken } from './tokens.js';

/** The `audit` plugin: an append-only trail of auth events and admin actions, in the database and in the log. */
export const plugin = definePlugin({
  name: 'audit',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description: 'Append-only audit trail of auth events and admin actions: sanitized, stored in the database and logged',
  dependsOn: ['database'],
  optionalDependsOn: ['http', 'metrics'],
  requires: [DatabaseToken],
  provides: [AuditToken],
  config: auditConfigSchema,
  register(ctx) {
    const db = ctx.container.get(DatabaseToken);
    db.registerEntities([AuditEventEntity]);
    db.registerMigrations('audit', auditMigrations);
    const audit = new AuditService({ db, config: ctx.config, logger: ctx.logger });
    ctx.provide(AuditToken, audit);
    registerAuditMetrics(ctx.container, ctx.name, audit);
    // The trail over HTTP, when the http plugin is enabled: permission "audit:read" (rbac enforces it,
    // and the boot fails if no plugin does).
    if (ctx.config.route && ctx.container.tryGet(HttpTransportToken)) {
      ctx.http.get(
        '/audit',
        {
          summary: 'The audit trail, newest first (cursor pagination)',
          tags: ['audit'],
          schema: { query: auditQuerySchema },
          meta: { auth: true, permission: 'audit:read' },
        },
        (req) => audit.query(req.query),
      );
    }

    // Non-critical: a failing audit write is reported to its caller (503) and logged; the instance stays in rotation.
    ctx.health.check(
      () => {
        const last = audit.lastWrite();
        if (!last) return { status: 'up', details: { lastWrite: 'none' } };
        return last.ok
          ? { status: 'up', details: { lastWrite: 'ok', at: last.at } }
          : { status: 'degraded', details: { lastWrite: 'failed', at: last.at, error: last.error } };
      },
      { critical: false },
    );
  },
});
