// deploy/prometheus with Debian's promtool (test/services/prometheus.sh installs it when missing):
// the config, the rules, and the rules' unit tests, one or more per alert.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ensurePromtool } from '../support/promtool.js';
import { readYaml, repoPath, run } from './support.js';

const dir = repoPath('deploy/prometheus');

describe('deploy/prometheus', () => {
  before(function () {
    this.timeout(300_000); // a first apt-get install of prometheus
    ensurePromtool();
  });

  it('promtool check config accepts prometheus.yml (and the rule file it names)', () => {
    const r = run('promtool', ['check', 'config', 'prometheus.yml'], { cwd: dir });
    expect(r.status, r.output).to.equal(0);
    expect(r.output).to.match(/SUCCESS: 1 rule files found/);
  });

  it('promtool check rules accepts alerts.yml', () => {
    const r = run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: dir });
    expect(r.status, r.output).to.equal(0);
  });

  it('promtool test rules passes alerts.test.yml', () => {
    const r = run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: dir });
    expect(r.status, r.output).to.equal(0);
    expect(r.output).to.match(/SUCCESS/);
  });

  it('promtool test rules fails when an expectation is wrong (the check can fail)', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'gantry-promtool-'));
    try {
      const broken = readFileSync(`${dir}/alerts.test.yml`, 'utf8')
        .replace('  - alerts.yml', `  - ${dir}/alerts.yml`)
        .replace('severity: page', 'severity: ignore');
      writeFileSync(path.join(tmp, 'broken.test.yml'), broken);
      const r = run('promtool', ['test', 'rules', 'broken.test.yml'], { cwd: tmp });
      expect(r.status, r.output).to.not.equal(0);
      expect(r.output).to.match(/GantryHighErrorRatio/);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('every alert has a firing test case, and the issue asks for each kind', () => {
    const rules = readYaml('deploy/prometheus/alerts.yml') as { groups: { rules: { alert: string }[] }[] };
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));
    const tests = readYaml('deploy/prometheus/alerts.test.yml') as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const fired = new Set(
      tests.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    );
    for (const a of alerts) expect(fired.has(a), `${a} has no firing test`).to.equal(true);
    for (const kind of [/ErrorRatio/, /Latency/, /Breaker/, /Outbox/, /ConsumerLag/, /AuthFailure/])
      expect(
        alerts.some((a) => kind.test(a)),
        String(kind),
      ).to.equal(true);
  });

  it('scrapes every compose app replica', () => {
    const config = readYaml('deploy/prometheus/prometheus.yml') as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const compose = readYaml('docker-compose.yml') as { services: Record<string, unknown> };
    const apps = Object.keys(compose.services).filter((n) => /^app-\d+$/.test(n));
    const job = config.scrape_configs.find((j) => j.job_name === 'gantry-app')!;
    expect(job.static_configs.flatMap((s) => s.targets)).to.have.members(apps.map((a) => `${a}:3000`));
  });
});
