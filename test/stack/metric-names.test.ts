// Every metric a Grafana dashboard or an alert rule names exists in the sandbox's real /metrics output
// (the in-process sandbox with a circuit-breaker policy, after a few requests), except the names of
// plugins not on this branch yet, listed in PENDING with the reason.
import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import { bootSandboxKernel, type SandboxKernel } from '../support/sandbox-kernel.js';
import { readYaml, repoPath } from './support.js';

/**
 * Metric names a dashboard or alert may use before the plugin exporting them is merged (empty now:
 * every name is checked against the sandbox's real /metrics). Remove an entry as soon as it is exported.
 */
const PENDING = new Set<string>();

/** PromQL words that look like metric names but are functions, keywords or label names. */
const NOT_METRICS = new Set([
  'sum',
  'max',
  'min',
  'avg',
  'count',
  'rate',
  'irate',
  'increase',
  'by',
  'without',
  'on',
  'ignoring',
  'and',
  'or',
  'unless',
  'histogram_quantile',
  'le',
  'bool',
  'group_left',
  'group_right',
  'label_values',
  'offset',
  'topk',
  'bottomk',
  'abs',
]);

/** Metric names of a PromQL expression (label matchers, strings, durations and $variables removed). */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/\{[^}]*\}/g, '')
    .replace(/"[^"]*"/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\$\w+/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  return [...stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b/g)]
    .map((m) => m[1]!)
    .filter((w) => !NOT_METRICS.has(w) && !/^\d/.test(w) && w.includes('_'));
}

function dashboardExprs(): Array<{ where: string; expr: string }> {
  const dir = repoPath('deploy/grafana/dashboards');
  const out: Array<{ where: string; expr: string }> = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const d = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
      templating: { list: { query?: string }[] };
    };
    for (const p of d.panels) for (const t of p.targets) out.push({ where: `${file}: ${p.title}`, expr: t.expr });
    for (const v of d.templating.list) if (v.query) out.push({ where: `${file}: variable`, expr: v.query });
  }
  return out;
}

function alertExprs(): Array<{ where: string; expr: string }> {
  const rules = readYaml('deploy/prometheus/alerts.yml') as { groups: { rules: { alert: string; expr: string }[] }[] };
  return rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alerts.yml: ${r.alert}`, expr: r.expr })));
}

describe('metric names in dashboards and alerts', () => {
  let sandbox: SandboxKernel;
  let exported: Set<string>;

  before(async function () {
    this.timeout(60_000);
    sandbox = await bootSandboxKernel({
      GANTRY_CIRCUIT_BREAKER__POLICIES: JSON.stringify({
        upstream: { order: ['breaker'], breaker: { kind: 'consecutive', threshold: 5 } },
      }),
    });
    await sandbox.inject({ method: 'GET', url: '/healthz' });
    await sandbox.inject({ method: 'GET', url: '/api/v1/notes' });
    await sandbox.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'nobody@example.com', password: 'wrong-password-1' },
    });
    const body = (await sandbox.inject({ method: 'GET', url: '/metrics' })).body;
    exported = new Set();
    for (const m of body.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
      exported.add(m[1]!);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(`${m[1]}${s}`);
      if (m[2] === 'summary') for (const s of ['_sum', '_count']) exported.add(`${m[1]}${s}`);
    }
  });
  after(async () => sandbox?.stop());

  it('the sandbox exports the families the dashboards rely on', () => {
    for (const name of [
      'http_request_duration_seconds_count',
      'gantry_plugin_boot_duration_seconds',
      'circuit_breaker_state',
      'rate_limit_rejected_total',
    ])
      expect(exported.has(name), name).to.equal(true);
  });

  it('the name extraction finds names (so an empty result cannot pass)', () => {
    expect(
      metricNames('sum by (route) (rate(http_request_duration_seconds_count{status_code=~"5.."}[5m])) / 2'),
    ).to.deep.equal(['http_request_duration_seconds_count']);
  });

  it('every metric of every dashboard panel and alert rule is exported (or listed as pending)', () => {
    const exprs = [...dashboardExprs(), ...alertExprs()];
    expect(exprs.length).to.be.greaterThan(20);
    const missing: string[] = [];
    const pendingUsed = new Set<string>();
    for (const { where, expr } of exprs) {
      const names = metricNames(expr);
      expect(names.length, `${where}: no metric in ${expr}`).to.be.greaterThan(0);
      for (const n of names) {
        if (PENDING.has(n)) pendingUsed.add(n);
        else if (!exported.has(n)) missing.push(`${where}: ${n}`);
      }
    }
    expect(missing).to.deep.equal([]);
    // A pending name nobody uses any more is dead weight in the allow-list.
    expect([...pendingUsed].sort()).to.deep.equal([...PENDING].sort());
  });
});
