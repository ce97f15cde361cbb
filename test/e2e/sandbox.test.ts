// The sandbox as a newcomer runs it: a real process on a real socket, embedded profile.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Browser, throughProvider } from '@gantry/testing';
import { expect } from 'chai';
import { ensurePromtool, promtoolCheck } from '../support/promtool.js';
import { bundledMain, type Sandbox, startSandbox, unbundledMain } from '../support/sandbox-process.js';
import { freePort } from '../support/sandbox-ports.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('sandbox (embedded profile, real process)', function () {
  this.timeout(30_000);
  let dir: string;
  let app: Sandbox;
  /** Requests as the administrator the sandbox seeds from SANDBOX_ADMIN_EMAIL / SANDBOX_ADMIN_PASSWORD. */
  let asAdmin: (route: string, init?: RequestInit) => Promise<Response>;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-sandbox-'));
    const admin = { SANDBOX_ADMIN_EMAIL: 'root@sandbox.test', SANDBOX_ADMIN_PASSWORD: 'Seeded-Admin-Passphrase-7' };
    app = await startSandbox({
      GANTRY_DATABASE__DB_NAME: path.join(dir, 'data.sqlite'),
      GANTRY_MAILER__OUT_DIR: path.join(dir, 'mail'),
      ...admin,
    });
    const login = await fetch(`${app.base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: admin.SANDBOX_ADMIN_EMAIL, password: admin.SANDBOX_ADMIN_PASSWORD }),
    });
    const { accessToken } = (await login.json()) as { accessToken: string };
    asAdmin = (route, init = {}) =>
      fetch(`${app.base}/api/v1${route}`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${accessToken}` },
      });
  });

  after(async () => {
    if (app.child.exitCode === null) {
      app.child.kill('SIGTERM');
      await app.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz, /readyz with every plugin check, and /metrics', async () => {
    const health = await fetch(`${app.base}/healthz`);
    expect(health.status).to.equal(200);
    const ready = await fetch(`${app.base}/readyz`);
    expect(ready.status).to.equal(200);
    const report = (await ready.json()) as { status: string; checks: Record<string, { status: string }> };
    expect(report.status).to.equal('ready');
    expect(Object.keys(report.checks)).to.include.members(['http', 'database', 'metrics']);
    const metrics = await fetch(`${app.base}/metrics`);
    expect(metrics.status).to.equal(200);
    expect(metrics.headers.get('content-type')).to.match(/^text\/plain/);
    const text = await metrics.text();
    expect(text).to.match(/^process_cpu_user_seconds_total /m);
    expect(text).to.include('gantry_plugin_boot_duration_seconds');
  });

  it("serves /metrics that `promtool check metrics` finds nothing to warn about, every plugin's metrics included", async function () {
    this.timeout(600_000); // promtool may need an apt-get install on a fresh machine
    ensurePromtool();
    expect((await asAdmin('/notes?limit=1')).status).to.equal(200);
    expect((await fetch(`${app.base}/api/v1/no-such-route`)).status).to.equal(404);
    const { status, output } = promtoolCheck(await (await fetch(`${app.base}/metrics`)).text());
    expect(output, 'promtool output').to.equal('');
    expect(status, 'promtool exit status').to.equal(0);
  });

  it('serves the notes resource backed by the database, with validation, to signed-in callers only', async () => {
    const anonymous = await fetch(`${app.base}/api/v1/notes`);
    expect(anonymous.status).to.equal(401);
    const json = { 'content-type': 'application/json' };
    const bad = await asAdmin('/notes', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ title: '', body: 42 }),
    });
    expect(bad.status).to.equal(400);
    expect(bad.headers.get('content-type')).to.match(/^application\/problem\+json/);
    const problem = (await bad.json()) as { code: string; errors: { in: string; field: string }[] };
    expect(problem.code).to.equal('GANTRY_HTTP_VALIDATION');
    expect(problem.errors.map((e) => `${e.in}.${e.field}`)).to.include.members(['body.title', 'body.body']);

    const created = await asAdmin('/notes', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ title: 'first <script>', body: 'hello' }),
    });
    expect(created.status).to.equal(201);
    const note = (await created.json()) as { id: string; title: string };
    expect(note.title).to.equal('first <script>');

    const got = await asAdmin(`/notes/${note.id}`);
    expect(got.status).to.equal(200);
    expect(((await got.json()) as { title: string }).title).to.equal('first <script>');

    const list = (await (await asAdmin('/notes?limit=10')).json()) as { items: { id: string }[]; total: number };
    expect(list.items.map((n) => n.id)).to.include(note.id);

    const missing = await asAdmin('/notes/00000000-0000-4000-8000-000000000000');
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { code: string }).code).to.equal('GANTRY_SANDBOX_NOTE_NOT_FOUND');
  });

  it('signs in through the development OpenID provider (state, PKCE) as a new verified account', async () => {
    type Readiness = {
      checks: Record<string, { status: string; details?: { discovery?: Record<string, string> } }>;
    };
    const ready = (await (await fetch(`${app.base}/readyz`)).json()) as Readiness;
    expect(ready.checks['dev-idp']?.status).to.equal('up');
    // The sandbox reads the development issuer at its first sign-in (discover: "first-use").
    expect(ready.checks.oauth?.details?.discovery).to.deep.equal({ dev: 'pending' });
    const browser = new Browser();
    const started = await browser.get(`${app.base}/api/v1/auth/oauth/dev`);
    expect(started.status, started.text).to.equal(302);
    const authorize = started.location!;
    expect(authorize.origin).to.equal(app.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).to.equal('S256');
    expect(authorize.searchParams.get('state')).to.match(/^[\w-]{43,}$/);
    const discovered = (await (await fetch(`${app.base}/readyz`)).json()) as Readiness;
    expect(discovered.checks.oauth?.details?.discovery).to.deep.equal({ dev: 'ready' });
    const callback = await throughProvider(browser, authorize, 'grace', app.base);
    const signedIn = await browser.get(callback);
    expect(signedIn.status, signedIn.text).to.equal(200);
    const { accessToken } = signedIn.json() as { accessToken: string };
    const me = await fetch(`${app.base}/api/v1/users/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).to.equal(200);
    expect(await me.json()).to.include({ email: 'grace@dev-idp.localhost', emailVerified: true });
    // The state works once: the same callback again is refused.
    const replay = await browser.get(callback);
    expect(replay.status).to.equal(400);
    expect((replay.json() as { code: string }).code).to.equal('GANTRY_OAUTH_STATE_INVALID');
  });

  it('lets in-flight requests finish on SIGTERM, then exits 0', async () => {
    const inFlight = fetch(`${app.base}/api/v1/demo/wait?ms=700`);
    await new Promise((r) => setTimeout(r, 150));
    app.child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ waitedMs: 700 });
    expect(await app.exited).to.equal(0);
  });
});

describe('sandbox with a bad config', function () {
  this.timeout(30_000);

  for (const [entry, main] of [
    ['bundled', bundledMain],
    ['unbundled', unbundledMain],
  ] as const)
    it(`refuses to start, lists every problem, exits 1 before listening (${entry} entry)`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-badconfig-'));
      const file = path.join(dir, 'gantry.config.json');
      writeFileSync(
        file,
        JSON.stringify({ plugins: { http: { port: 70000 }, metricz: {}, database: { driver: 'mysql' } } }),
      );
      const port = await freePort();
      const child = spawn(process.execPath, [main], {
        cwd: path.join(repo, 'sandbox'),
        env: { ...process.env, GANTRY_CONFIG: file, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += String(d)));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
      expect(code).to.equal(1);
      expect(err).to.include('GANTRY_CORE_BOOT_INVALID');
      expect(err).to.include('3 problems');
      expect(err).to.include('plugin "metricz": cannot find package @gantry/plugin-metricz');
      expect(err).to.match(/plugin "http": option "port": .*70000/);
      expect(err).to.match(/plugin "database": option "driver": .*mysql/);
    });
});

describe('sandbox compose profile', () => {
  const secrets = {
    GANTRY_DATABASE__PASSWORD: 'from-the-environment',
    GANTRY_OAUTH__PROVIDERS: JSON.stringify({
      google: { clientId: 'id.apps.googleusercontent.com', clientSecret: 'from-the-environment' },
    }),
    GANTRY_AUTH_JWT__KEYS: JSON.stringify([
      {
        kid: 'k1',
        privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
      },
    ]),
    GANTRY_SESSIONS_REDIS__CSRF_SECRET: 'c'.repeat(43),
    GANTRY_MFA__ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
  };

  it('lists every secret the profile needs in one pass, before anything starts', async () => {
    const { createKernel, silentLogger } = await import('@gantry/core');
    let error: { details?: { codes?: string[] } } | undefined;
    try {
      await createKernel({
        appDir: path.join(repo, 'sandbox'),
        profile: 'compose',
        env: { GANTRY_DATABASE__PASSWORD: 'x' },
        logger: silentLogger(),
      });
    } catch (err) {
      error = err as typeof error;
    }
    expect(error?.details?.codes).to.have.members([
      'GANTRY_AUTH_JWT_KEYS_REQUIRED',
      'GANTRY_SESSIONS_REDIS_CSRF_SECRET_REQUIRED',
      'GANTRY_MFA_KEY_REQUIRED',
    ]);
  });

  it('passes every boot check (plugins, dependencies, options) without services', async () => {
    const { createKernel, silentLogger } = await import('@gantry/core');
    const kernel = await createKernel({
      appDir: path.join(repo, 'sandbox'),
      profile: 'compose',
      env: secrets,
      logger: silentLogger(),
    });
    expect(kernel.pluginNames).to.include.members([
      'http',
      'metrics',
      'database',
      'circuit-breaker',
      'mailer',
      'rate-limit',
      'audit',
      'auth-jwt',
      'redis',
      'rbac',
      'sessions-redis',
      'users',
      'mfa',
      'oauth',
      'seed',
      'notes',
      'demo',
    ]);
    expect(kernel.pluginNames).to.not.include('dev-idp');
    await kernel.stop();
  });

  it('serves the OpenAPI document and Swagger UI only to holders of docs:read (never at the public root)', async () => {
    const { createKernel, HttpTransportToken, requiresAuthentication, silentLogger } = await import('@gantry/core');
    const kernel = await createKernel({
      appDir: path.join(repo, 'sandbox'),
      profile: 'compose',
      env: secrets,
      logger: silentLogger(),
    });
    // register() declares the routes and does no I/O: no service is needed.
    await kernel.register();
    const docs = kernel
      .get(HttpTransportToken)
      .routes()
      .filter((r) => r.plugin === 'openapi');
    expect(docs.map((r) => r.path)).to.have.members([
      '/api/v1/openapi.json',
      '/api/v1/openapi.yaml',
      '/api/v1/docs',
      '/api/v1/docs/:file',
    ]);
    for (const route of docs) {
      expect(requiresAuthentication(route), route.path).to.equal(true);
      expect(route.meta.permission, route.path).to.equal('docs:read');
    }
    await kernel.stop();
  });
});
