// `gantry routes` and `gantry plugins` on the reference app (sandbox/gantry.config.json, built by tsc -b).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKernel, HttpTransportToken, silentLogger } from '@gantry/core';
import { expect } from 'chai';
import { routeAuth, routeRateLimit, type PluginReport, type RouteReport } from '../src/index.js';
import { gantry, REPO } from './support.js';

const SANDBOX = path.join(REPO, 'sandbox');

describe('gantry routes (sandbox)', () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'gantry-cli-routes-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('lists every route of every plugin with who may call it and its rate-limit policy, opening nothing', async () => {
    // The database file named here must not appear: routes registers plugins and starts none.
    const dbFile = path.join(scratch, 'never.sqlite');
    const res = await gantry(['routes', '--json', '--cwd', SANDBOX], { env: { GANTRY_DATABASE__DB_NAME: dbFile } });
    expect(res.code, res.stderr).to.equal(0);
    const routes = JSON.parse(res.stdout).routes as RouteReport[];
    const find = (method: string, p: string) => routes.find((r) => r.method === method && r.path === p);

    expect(find('GET', '/healthz')).to.deep.equal({
      method: 'GET',
      path: '/healthz',
      plugin: 'http',
      auth: 'public',
      rateLimit: 'exempt',
    });
    expect(find('GET', '/metrics')).to.include({ plugin: 'metrics', auth: 'public' });
    expect(find('POST', '/api/v1/auth/signup')).to.include({ plugin: 'users', auth: 'public', rateLimit: 'signup' });
    expect(find('POST', '/api/v1/auth/login')).to.include({ plugin: 'users', auth: 'public', rateLimit: 'auth' });
    expect(find('POST', '/api/v1/auth/refresh')).to.include({ auth: 'public', rateLimit: 'refresh' });
    expect(find('POST', '/api/v1/auth/mfa/verify')).to.include({ plugin: 'mfa', auth: 'public', rateLimit: 'mfa' });
    expect(find('GET', '/api/v1/users/me')).to.include({ auth: 'authenticated', rateLimit: 'default' });
    expect(find('GET', '/api/v1/users')).to.include({ auth: 'permission users:read' });
    expect(find('DELETE', '/api/v1/users/:id')).to.include({ auth: 'permission users:write' });
    expect(find('PUT', '/api/v1/users/:id/roles')).to.include({ auth: 'permission roles:write' });
    expect(find('GET', '/api/v1/roles')).to.include({ plugin: 'rbac', auth: 'permission roles:read' });
    expect(find('GET', '/api/v1/audit')).to.include({ plugin: 'audit', auth: 'permission audit:read' });
    expect(find('GET', '/api/v1/auth/sessions')).to.include({ plugin: 'sessions-redis', auth: 'authenticated' });
    expect(find('GET', '/api/v1/auth/oauth/:provider')).to.include({ plugin: 'oauth', auth: 'public' });
    expect(find('GET', '/api/v1/notes')).to.include({ plugin: 'notes', auth: 'authenticated' });
    // With auth-jwt enabled the sandbox boots only when every route says who may call it.
    expect(routes.filter((r) => r.auth === 'undeclared')).to.deep.equal([]);
    expect(existsSync(dbFile)).to.equal(false);

    // Every route the registered kernel holds, no more, no fewer.
    const kernel = await createKernel({
      appDir: SANDBOX,
      env: { GANTRY_DATABASE__DB_NAME: dbFile },
      logger: silentLogger(),
    });
    await kernel.register();
    const expected = kernel
      .get(HttpTransportToken)
      .routes()
      .map((r) => `${r.method} ${r.path} ${r.plugin}`);
    await kernel.stop();
    expect(routes.map((r) => `${r.method} ${r.path} ${r.plugin}`)).to.deep.equal(expected);
    expect(expected.length).to.be.greaterThan(40);
  });

  it('prints a table with a header and one line per route', async () => {
    const res = await gantry(['routes', '--cwd', SANDBOX]);
    expect(res.code, res.stderr).to.equal(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).to.match(/^METHOD +PATH +PLUGIN +AUTH +RATE LIMIT$/);
    expect(res.stdout).to.match(/^GET +\/api\/v1\/users +users +permission users:read +default$/m);
    expect(lines.at(-1)).to.match(/^\d+ routes \(profile embedded\)$/);
    expect(lines.length).to.equal(Number(lines.at(-1)!.split(' ')[0]) + 3);
  });

  it('reads access and policy from route metadata the way the plugins do', () => {
    expect(routeAuth({ root: false, meta: {} })).to.equal('undeclared');
    expect(routeAuth({ root: true, meta: {} })).to.equal('public');
    expect(routeAuth({ root: false, meta: { auth: 'session' } })).to.equal('authenticated (session)');
    expect(routeAuth({ root: false, meta: { auth: true, permission: 'authenticated' } })).to.equal('authenticated');
    expect(routeAuth({ root: false, meta: { permission: ['a:b', 'c:d'] } })).to.equal('permission a:b, c:d');
    expect(routeRateLimit({ root: false, meta: {} }, true)).to.equal('default');
    expect(routeRateLimit({ root: false, meta: { rateLimit: false } }, true)).to.equal('exempt');
    expect(routeRateLimit({ root: true, meta: { rateLimit: 'auth' } }, true)).to.equal('auth');
    expect(routeRateLimit({ root: false, meta: { rateLimit: 'auth' } }, false)).to.equal('off');
  });
});

describe('gantry plugins (sandbox)', () => {
  it('lists the enabled plugins in start order with versions and the tokens they provide and require', async () => {
    const res = await gantry(['plugins', '--json', '--cwd', SANDBOX]);
    expect(res.code, res.stderr).to.equal(0);
    const out = JSON.parse(res.stdout) as { plugins: PluginReport[]; disabled: string[] };
    const names = out.plugins.map((p) => p.name);
    expect(names[0]).to.equal('http');
    expect(names).to.include.members(['database', 'users', 'rbac', 'auth-jwt', 'mfa', 'oauth', 'notes', 'dev-idp']);
    expect(names.indexOf('database')).to.be.lessThan(names.indexOf('users'));
    expect(out.disabled).to.deep.equal(['redis']);
    const users = out.plugins.find((p) => p.name === 'users')!;
    expect(users.version).to.match(/^\d+\.\d+\.\d+$/);
    expect(users.specifier).to.equal('users');
    expect(users.requires).to.include.members(['gantry.database.Database', 'gantry.rbac.Rbac']);
    expect(users.provides.length).to.be.greaterThan(0);
    expect(out.plugins.find((p) => p.name === 'notes')!.specifier).to.equal('./dist/src/notes/plugin.js');

    const text = await gantry(['plugins', '--cwd', SANDBOX]);
    expect(text.stdout).to.match(
      /^users \d+\.\d+\.\d+\n {2}provides: +.+\n {2}requires: +.*gantry\.database\.Database/m,
    );
    expect(text.stdout).to.include(
      `${names.length} plugins enabled (profile embedded), in start order; disabled: redis`,
    );
  });
});
