// deploy/nginx: `nginx -t` by Debian's nginx (installed by test/services/nginx.sh when missing) on the
// repo's config templated to a folder of its own, and the values that must agree with the app.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { httpConfigSchema } from '@gantry/http';
import { expect } from 'chai';
import { type ComposeFile, devCert, ensureNginx, readYaml, repoPath, run, templateNginx } from './support.js';

const site = readFileSync(repoPath('deploy/nginx/gantry.conf'), 'utf8');
const directives = site
  .split('\n')
  .map((l) => l.replace(/#.*$/, '').trim())
  .filter(Boolean);

/** express's `bytes` parser for the http plugin's bodyLimit ("100kb" = 102400 bytes). */
function bytes(limit: string): number {
  const m = /^(\d+)(b|kb|mb)$/i.exec(limit)!;
  return Number(m[1]) * { b: 1, kb: 1024, mb: 1024 * 1024 }[m[2]!.toLowerCase() as 'b' | 'kb' | 'mb'];
}

describe('deploy/nginx', () => {
  let dir: string;
  before(function () {
    this.timeout(300_000); // a first apt-get install of nginx-light
    ensureNginx();
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-nginx-t-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('passes nginx -t with the development certificate', () => {
    mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    devCert(path.join(dir, 'certs'));
    const { main, site: templated } = templateNginx(dir, {
      http: 18080,
      https: 18443,
      health: 18081,
      upstreams: [13001, 13002],
    });
    writeFileSync(path.join(dir, 'nginx.conf'), main);
    writeFileSync(path.join(dir, 'gantry.conf'), templated);
    const r = run('nginx', ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')]);
    expect(r.status, r.output).to.equal(0);
    expect(r.output).to.match(/test is successful/);
  });

  it('nginx -t fails on a broken config (the check can fail)', () => {
    writeFileSync(
      path.join(dir, 'broken.conf'),
      'events {}\nhttp { server { listen 127.0.0.1:18090; bogus_directive on; } }\n',
    );
    const r = run('nginx', ['-t', '-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'broken.conf')]);
    expect(r.status).to.not.equal(0);
  });

  it('balances least_conn over exactly the compose app replicas, with keepalive', () => {
    const compose = readYaml('docker-compose.yml') as ComposeFile;
    const apps = Object.keys(compose.services).filter((n) => /^app-\d+$/.test(n));
    const servers = directives.filter((d) => /^server app-/.test(d)).map((d) => /^server (app-\d+):3000 /.exec(d)?.[1]);
    expect(servers).to.have.members(apps);
    expect(directives).to.include('least_conn;');
    expect(directives.some((d) => /^keepalive \d+;$/.test(d))).to.equal(true);
    expect(directives).to.include('proxy_http_version 1.1;');
    expect(directives).to.include('proxy_set_header Connection "";');
  });

  it('retries on the next replica for idempotent requests only', () => {
    const all = directives.filter((d) => d.startsWith('proxy_next_upstream '));
    for (const d of all) expect(d).to.not.match(/non_idempotent/);
    const next = all.filter((d) => d !== 'proxy_next_upstream off;');
    expect(next).to.have.length(1);
    expect(next[0]).to.not.match(/non_idempotent/);
    expect(next[0]).to.match(/error/);
  });

  it('passes the request id and one X-Forwarded-For hop, matching trustProxy 1 of the compose profile', () => {
    expect(directives).to.include('proxy_set_header X-Request-Id $gantry_request_id;');
    expect(directives).to.include('proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
    expect(directives).to.include('proxy_set_header X-Forwarded-Proto $scheme;');
    const config = JSON.parse(readFileSync(repoPath('sandbox/gantry.config.json'), 'utf8')) as {
      profiles: { compose: { plugins: { http: { trustProxy: number } } } };
    };
    expect(config.profiles.compose.plugins.http.trustProxy).to.equal(1);
  });

  it('limits bodies to the http plugin bodyLimit', () => {
    const limit = httpConfigSchema.parse({}).bodyLimit;
    const expected = typeof limit === 'number' ? limit : bytes(limit);
    const m = /^client_max_body_size (\d+)k;$/.exec(directives.find((d) => d.startsWith('client_max_body_size'))!);
    expect(Number(m![1]) * 1024).to.equal(expected);
  });

  it('upgrades WebSocket connections on /ws and /graphql, redirects HTTP to HTTPS, gzips JSON', () => {
    for (const loc of ['/ws', '/graphql']) {
      const block = site.slice(site.indexOf(`location ${loc} {`));
      expect(block.slice(0, block.indexOf('}'))).to.match(/proxy_set_header Connection \$connection_upgrade;/);
    }
    expect(directives).to.include('return 308 https://$host:8443$request_uri;');
    expect(directives).to.include('gzip on;');
    expect(directives.find((d) => d.startsWith('gzip_types'))).to.match(/application\/json/);
  });

  it('adds no security header the app already sends (helmet)', () => {
    for (const header of [
      'Strict-Transport-Security',
      'Content-Security-Policy',
      'X-Frame-Options',
      'X-Content-Type-Options',
      'Referrer-Policy',
      'Cross-Origin-Opener-Policy',
      'Cross-Origin-Resource-Policy',
    ])
      expect(site.toLowerCase(), header).to.not.include(`add_header ${header.toLowerCase()}`);
  });
});
