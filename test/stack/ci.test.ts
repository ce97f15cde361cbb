// .github/workflows/ci.yml read for what the issue asks of it (no runner here to execute it): service
// containers, the suites, the image, Trivy on image and lockfile failing on HIGH/CRITICAL with SARIF
// uploaded, a CycloneDX SBOM, lerna publish with provenance on tags, actions pinned by commit.
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import { readYaml, repoPath } from './support.js';

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
}
interface Job {
  env?: Record<string, string>;
  needs?: string | string[];
  if?: string;
  services?: Record<string, { image: string }>;
  permissions?: Record<string, string>;
  steps: Step[];
}
const ci = readYaml('.github/workflows/ci.yml') as { jobs: Record<string, Job> };
const steps = Object.values(ci.jobs).flatMap((j) => j.steps);

describe('.github/workflows/ci.yml', () => {
  it('runs build, lint and every suite against PostgreSQL, Redis and Kafka service containers', () => {
    const job = ci.jobs['build-test']!;
    expect(Object.keys(job.services ?? {})).to.include.members(['postgres', 'redis', 'kafka', 'zookeeper']);
    const runs = job.steps.map((s) => s.run ?? '').join('\n');
    for (const cmd of [
      'npm ci',
      'tsc -b',
      'biome check',
      'npx mocha\n',
      '.mocharc.services.json',
      '.mocharc.stack.json',
    ])
      expect(runs + '\n', cmd).to.include(cmd);
    for (const config of ['.mocharc.services.json', '.mocharc.stack.json'])
      expect(existsSync(repoPath(config)), config).to.equal(true);
  });

  it('runs the unit and service suites again on the fastify engine, against PostgreSQL and Redis', () => {
    const job = ci.jobs['engine-fastify']!;
    expect(job.env?.GANTRY_HTTP__ENGINE).to.equal('fastify');
    expect(Object.keys(job.services ?? {})).to.include.members(['postgres', 'redis']);
    expect(job.steps.map((s) => s.run ?? '').join('\n')).to.include('npx mocha --config .mocharc.fastify.json');
    expect(existsSync(repoPath('.mocharc.fastify.json'))).to.equal(true);
  });

  it('scans the image and the lockfile with Trivy, uploads SARIF, and fails on HIGH/CRITICAL', () => {
    const trivy = steps.filter((s) => s.uses?.startsWith('aquasecurity/trivy-action@'));
    const failing = trivy.filter((s) => s.with?.['exit-code'] === '1');
    expect(failing.some((s) => s.with?.['image-ref'])).to.equal(true);
    expect(failing.some((s) => s.with?.['scan-type'] === 'fs' && s.with['scan-ref'] === 'package-lock.json')).to.equal(
      true,
    );
    for (const s of trivy) expect(s.with?.severity).to.equal('HIGH,CRITICAL');
    const sarif = trivy.filter((s) => s.with?.format === 'sarif').map((s) => s.with!.output);
    const uploaded = steps
      .filter((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@'))
      .map((s) => s.with?.sarif_file);
    expect(sarif.length).to.equal(2);
    expect(uploaded).to.have.members(sarif);
    expect(ci.jobs.image!.permissions?.['security-events']).to.equal('write');
  });

  it('writes a CycloneDX SBOM with npm sbom', () => {
    expect(steps.some((s) => /npm sbom --sbom-format cyclonedx/.test(s.run ?? ''))).to.equal(true);
  });

  it('publishes with lerna and npm provenance on tags only', () => {
    const publish = ci.jobs.publish!;
    expect(publish.if).to.match(/refs\/tags\//);
    expect(publish.permissions?.['id-token']).to.equal('write');
    const step = publish.steps.find((s) => /lerna publish/.test(s.run ?? ''))!;
    expect(step.env?.NPM_CONFIG_PROVENANCE).to.equal('true');
  });

  it('pins every action to a commit', () => {
    for (const s of steps) if (s.uses) expect(s.uses).to.match(/@[0-9a-f]{40}$/);
  });
});
