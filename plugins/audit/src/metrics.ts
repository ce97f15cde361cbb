import type { Container } from '@gantry/core';
import type { AuditService } from './audit.js';
import { MetricsToken } from './peer-tokens.js';

/**
 * Registers the trail's counters with the `metrics` plugin (only when it is enabled):
 * `audit_entries_total{action,outcome}` (every entry written: failed logins are
 * `{action="auth.login",outcome="failure"}`, so alerts can watch sign-in failures and denied admin
 * actions) and `audit_write_failures_total{action}` (entries the database refused). Read from the
 * service's own counts at scrape time; actions are the plugins' fixed names, so the label set is bounded.
 */
export function registerAuditMetrics(container: Container, pluginName: string, audit: AuditService): void {
  const metrics = container.tryGet(MetricsToken);
  if (!metrics) return;
  const scope = metrics.forPlugin(pluginName);
  scope.counter({
    name: 'entries_total',
    help: 'Audit entries written, per action and outcome (success, failure, denied)',
    labelNames: ['action', 'outcome'],
    collect() {
      this.reset();
      for (const [action, outcome, n] of audit.counts().written) this.inc({ action, outcome }, n);
    },
  });
  scope.counter({
    name: 'write_failures_total',
    help: 'Audit entries the database did not store (the caller got 503 GANTRY_AUDIT_UNAVAILABLE), per action',
    labelNames: ['action'],
    collect() {
      this.reset();
      for (const [action, n] of audit.counts().failed) this.inc({ action }, n);
    },
  });
}
