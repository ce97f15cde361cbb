// The stack without Docker, on loopback: Debian nginx with deploy/nginx (templated by support.ts) in
// front of sandbox instances in the compose profile, sharing the real PostgreSQL (a database of their
// own) and Redis (key prefixes of their own), and Debian Prometheus with deploy/prometheus scraping them.
// Used by test/stack/*.stack.test.ts and by `npm run stack:local` (test/stack/local.ts).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../support/sandbox-ports.js';
import { devCert, pathWithSbin, repoPath, templateNginx, templatePrometheus } from './support.js';

/** PostgreSQL and Redis of the service suites (test/services/postgres.sh and redis.sh). */
export const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: process.env.PGPORT ?? '5432',
  user: process.env.PGUSER ?? 'postgres',
};
export const REDIS_URL = process.env.GANTRY_STACK_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** libpq environment for the PostgreSQL CLI tools (psql, createdb, pg_dump, pg_restore, backup.sh). */
export function pgEnv(database?: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: PG.host,
    PGPORT: PG.port,
    PGUSER: PG.user,
    ...(database ? { PGDATABASE: database } : {}),
  };
}

/** Runs SQL with psql, returns the unaligned, tuples-only output. */
export function psql(database: string, sql: string): string {
  return execFileSync('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
    env: pgEnv(database),
    encoding: 'utf8',
  });
}

/** Waits for a condition with a bounded deadline; throws with `what` when it never holds. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}

export interface Instance {
  readonly name: string;
  readonly port: number;
  readonly base: string;
  child?: ChildProcess;
  exited?: Promise<number | null>;
  log: string;
}

export interface HttpsAnswer {
  status: number;
  /** Header names as sent, lower-cased, once per occurrence. */
  raw: string[];
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface StackOptions {
  instances?: number;
  prometheus?: boolean;
  /** Extra environment for every instance. */
  env?: Record<string, string>;
  /** Rewrites alerts.yml before Prometheus loads it (a test shortens a `for:`). */
  rules?: (text: string) => string;
  /** Keep the instances' logs on this process's stderr (stack:local). */
  inheritLogs?: boolean;
  /** Put nginx in front (default true; it needs two instances). */
  nginx?: boolean;
  /** Fixed ports (stack:local); free ephemeral ports otherwise. */
  ports?: { http: number; https: number; health: number; prometheus: number; apps: number[] };
}

/** The loopback stack: create with `LoopbackStack.start()`, end with `stop()`. */
export class LoopbackStack {
  readonly run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  readonly database = `gantry_stack_${this.run}`;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'gantry-stack-'));
  readonly instances: Instance[] = [];
  readonly admin = { email: `admin-${this.run}@example.com`, password: `Stack-${this.run}-Battery-9` };
  nginxPorts = { http: 0, https: 0, health: 0 };
  prometheusPort = 0;
  private nginx?: ChildProcess;
  private prometheus?: ChildProcess;
  private env: Record<string, string> = {};
  /** stack:local: children in process groups of their own, so a terminal's Ctrl-C reaches only the
   * launcher, which then stops them one by one (SIGTERM drains; a second signal would cut the drain). */
  private detached = false;
  private readonly ca: Buffer[] = [];

  static async start(options: StackOptions = {}): Promise<LoopbackStack> {
    const stack = new LoopbackStack();
    try {
      await stack.boot(options);
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  /** https://localhost:<nginx https port> */
  get edge(): string {
    return `https://localhost:${this.nginxPorts.https}`;
  }

  get prometheusUrl(): string {
    return `http://127.0.0.1:${this.prometheusPort}`;
  }

  private async boot(options: StackOptions): Promise<void> {
    this.detached = options.inheritLogs === true;
    execFileSync('createdb', [this.database], { env: pgEnv() });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const prefix = `gantry-stack-${this.run}:`;
    this.env = {
      GANTRY_PROFILE: 'compose',
      LOG_LEVEL: 'warn',
      GANTRY_HTTP__HOST: '127.0.0.1',
      GANTRY_DATABASE__HOST: PG.host,
      GANTRY_DATABASE__PORT: PG.port,
      GANTRY_DATABASE__USER: PG.user,
      GANTRY_DATABASE__DB_NAME: this.database,
      GANTRY_REDIS__URL: REDIS_URL,
      GANTRY_MAILER__SMTP_URL: `smtp://127.0.0.1:${await freePort()}`,
      GANTRY_AUTH_JWT__KEYS: JSON.stringify([
        { kid: `stack-${this.run}`, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) },
      ]),
      GANTRY_AUTH_JWT__PREFIX: `${prefix}jwt:`,
      GANTRY_RATE_LIMIT__PREFIX: `${prefix}rl:`,
      GANTRY_SESSIONS_REDIS__PREFIX: `${prefix}sess:`,
      GANTRY_SESSIONS_REDIS__CSRF_SECRET: randomBytes(24).toString('hex'),
      GANTRY_MFA__ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      GANTRY_OAUTH__PROVIDERS: JSON.stringify({
        google: { clientId: 'stack-test.apps.googleusercontent.com', clientSecret: 'stack-test-not-a-secret' },
      }),
      SANDBOX_ADMIN_EMAIL: this.admin.email,
      SANDBOX_ADMIN_PASSWORD: this.admin.password,
      ...options.env,
    };
    const count = options.instances ?? 2;
    for (let i = 1; i <= count; i++) {
      const port = options.ports?.apps[i - 1] ?? (await freePort());
      this.instances.push({ name: `app-${i}`, port, base: `http://127.0.0.1:${port}`, log: '' });
    }
    // One at a time: the first applies the migrations and seeds the administrator.
    for (const instance of this.instances) await this.startInstance(instance, options.inheritLogs);
    if (options.nginx !== false) await this.startNginx(options.ports);
    if (options.prometheus) await this.startPrometheus(options.rules, options.ports?.prometheus);
  }

  /** Starts (or restarts) an instance on its port and waits for /readyz. */
  async startInstance(instance: Instance, inheritLogs = false): Promise<void> {
    const child = spawn(process.execPath, [repoPath('sandbox/dist/bundle/main.js')], {
      cwd: repoPath('sandbox'),
      env: { ...process.env, ...this.env, PORT: String(instance.port) },
      stdio: ['ignore', inheritLogs ? 'inherit' : 'ignore', inheritLogs ? 'inherit' : 'pipe'],
      detached: this.detached,
    });
    instance.child = child;
    instance.log = '';
    child.stderr?.on('data', (d: Buffer) => {
      instance.log = (instance.log + String(d)).slice(-20_000);
    });
    instance.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await until(
      `${instance.name} /readyz on ${instance.base}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${instance.name} exited with ${child.exitCode}: ${instance.log}`);
        return (await fetch(`${instance.base}/readyz`)).status === 200;
      },
      60_000,
    );
  }

  /** Stops an instance with a signal (SIGTERM drains, SIGKILL does not) and waits for it to exit. */
  async stopInstance(instance: Instance, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = instance.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    child.kill(signal);
    return instance.exited!;
  }

  private async startNginx(ports?: { http: number; https: number; health: number }): Promise<void> {
    this.nginxPorts = ports
      ? { http: ports.http, https: ports.https, health: ports.health }
      : { http: await freePort(), https: await freePort(), health: await freePort() };
    const dir = path.join(this.dir, 'nginx');
    mkdirSync(path.join(dir, 'tmp'), { recursive: true });
    devCert(path.join(dir, 'certs'));
    this.ca.push(readFileSync(path.join(dir, 'certs/dev.crt')));
    const { main, site } = templateNginx(dir, { ...this.nginxPorts, upstreams: this.instances.map((i) => i.port) });
    writeFileSync(path.join(dir, 'nginx.conf'), main);
    writeFileSync(path.join(dir, 'gantry.conf'), site);
    this.nginx = spawn(
      'nginx',
      ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'],
      {
        env: { ...process.env, PATH: pathWithSbin },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    this.nginx.stderr!.on('data', (d: Buffer) => (err += String(d)));
    await until(
      'nginx health endpoint',
      async () => {
        if (this.nginx!.exitCode !== null) throw new Error(`nginx exited: ${err}${this.nginxErrorLog()}`);
        return (await fetch(`http://127.0.0.1:${this.nginxPorts.health}/nginx-health`)).status === 200;
      },
      15_000,
    );
  }

  /** nginx's error log so far. */
  nginxErrorLog(): string {
    try {
      return readFileSync(path.join(this.dir, 'nginx/error.log'), 'utf8');
    } catch {
      return '';
    }
  }

  private async startPrometheus(rules?: (text: string) => string, port?: number): Promise<void> {
    this.prometheusPort = port ?? (await freePort());
    const dir = path.join(this.dir, 'prometheus');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      templatePrometheus(
        this.instances.map((i) => `127.0.0.1:${i.port}`),
        this.prometheusPort,
      ),
    );
    const alerts = readFileSync(repoPath('deploy/prometheus/alerts.yml'), 'utf8');
    writeFileSync(path.join(dir, 'alerts.yml'), rules ? rules(alerts) : alerts);
    copyFileSync(repoPath('deploy/prometheus/alerts.test.yml'), path.join(dir, 'alerts.test.yml'));
    this.prometheus = spawn(
      'prometheus',
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.prometheusPort}`,
        '--web.enable-lifecycle',
      ],
      { env: { ...process.env, PATH: pathWithSbin }, stdio: ['ignore', 'ignore', 'pipe'], detached: this.detached },
    );
    let err = '';
    this.prometheus.stderr!.on('data', (d: Buffer) => {
      err = (err + String(d)).slice(-10_000);
    });
    await until(
      'Prometheus /-/ready',
      async () => {
        if (this.prometheus!.exitCode !== null) throw new Error(`prometheus exited: ${err}`);
        return (await fetch(`${this.prometheusUrl}/-/ready`)).status === 200;
      },
      30_000,
    );
  }

  /** A PromQL instant query over Prometheus's HTTP API. */
  async query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const res = await fetch(`${this.prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as {
      status: string;
      data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
    };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${JSON.stringify(body)}`);
    return body.data.result;
  }

  /** A request to nginx's HTTPS port, verifying its certificate against the development certificate. */
  request(
    pathname: string,
    options: { method?: string; headers?: Record<string, string>; body?: unknown; port?: number } = {},
  ): Promise<HttpsAnswer> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          servername: 'localhost',
          port: options.port ?? this.nginxPorts.https,
          path: pathname,
          method: options.method ?? 'GET',
          ca: this.ca,
          agent: false,
          headers: {
            host: `localhost:${this.nginxPorts.https}`,
            ...(payload
              ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
              : {}),
            ...options.headers,
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              raw: res.rawHeaders.filter((_, i) => i % 2 === 0).map((h) => h.toLowerCase()),
              headers: res.headers,
              body,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** The request counter of one instance for one route, read from its own /metrics. */
  async requestCount(instance: Instance, route: string): Promise<number> {
    const text = await (await fetch(`${instance.base}/metrics`)).text();
    let total = 0;
    for (const line of text.split('\n')) {
      if (line.startsWith('http_request_duration_seconds_count{') && line.includes(`route="${route}"`))
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  }

  async stop(): Promise<void> {
    for (const instance of this.instances) await this.stopInstance(instance).catch(() => undefined);
    for (const child of [this.nginx, this.prometheus]) {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    }
    try {
      // This run's Redis keys (sessions, refresh tokens, rate-limit counters), all under its own prefix.
      const url = new URL(REDIS_URL);
      const cli = ['-h', url.hostname, '-p', url.port || '6379'];
      const keys = execFileSync('redis-cli', [...cli, '--scan', '--pattern', `gantry-stack-${this.run}:*`], {
        encoding: 'utf8',
      })
        .split('\n')
        .filter(Boolean);
      for (let i = 0; i < keys.length; i += 500)
        execFileSync('redis-cli', [...cli, 'del', ...keys.slice(i, i + 500)], { stdio: 'ignore' });
    } catch {
      // redis-cli missing: the keys expire with their TTLs
    }
    try {
      execFileSync('dropdb', ['--if-exists', this.database], { env: pgEnv(), stdio: 'ignore' });
    } catch {
      // left for the next run's cleanup; a per-run name never collides
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
