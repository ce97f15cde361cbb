// The stack on loopback, for real: Debian nginx with deploy/nginx in front of two sandbox instances
// (compose profile) sharing the real PostgreSQL and Redis, Debian Prometheus with deploy/prometheus,
// and the backup/restore scripts against the real PostgreSQL. Run by `npm run test:stack`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { expect } from 'chai';
import { LoopbackStack, pgEnv, psql, until } from './loopback.js';
import { repoPath } from './support.js';

const WAIT = '/api/v1/demo/wait';

/** autocannon through nginx's HTTPS port until stopped (bounded by `seconds` in any case). */
function load(stack: LoopbackStack, seconds: number) {
  let instance!: autocannon.Instance;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: `${stack.edge}${WAIT}?ms=2`,
        connections: 8,
        duration: seconds,
        timeout: 10,
        headers: { host: `localhost:${stack.nginxPorts.https}` },
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
  return { instance, done };
}

function failures(r: autocannon.Result): number {
  return r.errors + r.timeouts + r.non2xx;
}

describe('the stack on loopback (nginx, two instances, PostgreSQL, Redis, Prometheus)', function () {
  this.timeout(120_000);
  let stack: LoopbackStack;

  before(async function () {
    this.timeout(180_000);
    stack = await LoopbackStack.start({
      prometheus: true,
      // 504 after 1.5 s for the error burst; every other route answers in milliseconds.
      env: {
        GANTRY_HTTP__REQUEST_TIMEOUT_MS: '1500',
        GANTRY_RATE_LIMIT__DEFAULT: JSON.stringify({ windowMs: 60_000, limit: 1_000_000, count: 'all', keyBy: 'ip' }),
        GANTRY_USERS__NEW_LOGIN_NOTICE: 'false',
      },
      // The alert's `for: 2m` is tested by promtool (alerts.test.yml); here it fires as soon as it holds.
      rules: (text) => text.replace(/(alert: GantryHighErrorRatio[\s\S]*?)for: 2m/, '$1for: 0s'),
    });
  });
  after(async function () {
    this.timeout(60_000);
    await stack?.stop();
  });

  describe('nginx in front of the instances', () => {
    it('spreads requests over both instances', async () => {
      const before = await Promise.all(stack.instances.map((i) => stack.requestCount(i, WAIT)));
      for (let i = 0; i < 20; i++) expect((await stack.request(`${WAIT}?ms=0`)).status).to.equal(200);
      const after = await Promise.all(stack.instances.map((i) => stack.requestCount(i, WAIT)));
      const served = after.map((n, i) => n - before[i]!);
      expect(served.reduce((a, b) => a + b)).to.equal(20);
      for (const n of served) expect(n, `served ${served.join('/')}`).to.be.greaterThan(3);
    });

    it('redirects plain HTTP to HTTPS', async () => {
      const res = await fetch(`http://127.0.0.1:${stack.nginxPorts.http}/healthz`, { redirect: 'manual' });
      expect(res.status).to.equal(308);
      expect(res.headers.get('location')).to.equal(`https://127.0.0.1:${stack.nginxPorts.https}/healthz`);
    });

    it('passes the request id (the client’s, else its own) and sends each security header once', async () => {
      const mine = await stack.request('/healthz', { headers: { 'x-request-id': 'stack-rid-1' } });
      expect(mine.headers['x-request-id']).to.equal('stack-rid-1');
      const generated = await stack.request('/healthz');
      expect(generated.headers['x-request-id']).to.match(/^[0-9a-f]{32}$/);
      for (const h of [
        'strict-transport-security',
        'content-security-policy',
        'x-frame-options',
        'x-content-type-options',
        'referrer-policy',
      ])
        expect(
          generated.raw.filter((r) => r === h),
          h,
        ).to.have.length(1);
      expect(generated.raw).to.not.include('x-powered-by');
      expect(generated.raw).to.not.include('server-timing');
    });

    it('refuses a body over the app limit at the edge (413) and hides /metrics', async () => {
      const big = await stack.request('/api/v1/auth/login', {
        method: 'POST',
        body: { email: 'x@example.com', password: 'p'.repeat(110 * 1024) },
      });
      expect(big.status).to.equal(413);
      expect((await stack.request('/metrics')).status).to.equal(404);
    });

    it('a token and a cookie session from a login through nginx work on both instances', async () => {
      const login = await stack.request('/api/v1/auth/login', { method: 'POST', body: stack.admin });
      expect(login.status, login.body).to.equal(200);
      const { accessToken } = JSON.parse(login.body) as { accessToken: string };
      // Notes written through nginx (rows for the backup round trip below).
      for (let i = 0; i < 25; i++) {
        const note = await stack.request('/api/v1/notes', {
          method: 'POST',
          headers: { authorization: `Bearer ${accessToken}` },
          body: { title: `note ${i}`, body: `written through nginx, run ${stack.run}` },
        });
        expect(note.status, note.body).to.equal(201);
      }
      const session = await stack.request('/api/v1/auth/login', {
        method: 'POST',
        body: { ...stack.admin, session: true },
      });
      expect(session.status, session.body).to.equal(200);
      const cookies = ([] as string[]).concat(session.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!);
      expect(cookies.length).to.be.greaterThan(0);
      for (const instance of stack.instances) {
        const byToken = await fetch(`${instance.base}/api/v1/users/me`, {
          headers: { authorization: `Bearer ${accessToken}` },
        });
        expect(byToken.status, `${instance.name} token`).to.equal(200);
        expect(((await byToken.json()) as { email: string }).email).to.equal(stack.admin.email);
        const byCookie = await fetch(`${instance.base}/api/v1/users/me`, {
          headers: { cookie: cookies.join('; '), 'x-forwarded-proto': 'https' },
        });
        expect(byCookie.status, `${instance.name} cookie`).to.equal(200);
      }
    });

    it('shares rate limits: failed logins through nginx on both instances add up to one limit', async () => {
      const email = `victim-${stack.run}@example.com`;
      const counts = () => Promise.all(stack.instances.map((i) => stack.requestCount(i, '/api/v1/auth/login')));
      const before = await counts();
      const statuses: number[] = [];
      for (let i = 0; i < 14; i++)
        statuses.push(
          (await stack.request('/api/v1/auth/login', { method: 'POST', body: { email, password: 'Wrong-Password-1' } }))
            .status,
        );
      const after = await counts();
      for (let i = 0; i < after.length; i++)
        expect(after[i]! - before[i]!, `instance ${i + 1} served`).to.be.greaterThan(2);
      // perAccountAndIp: 10 failures per 15 minutes, counted in Redis by both instances together.
      expect(
        statuses.slice(0, 10).every((s) => s === 401),
        statuses.join(','),
      ).to.equal(true);
      expect(
        statuses.slice(10).every((s) => s === 429),
        statuses.join(','),
      ).to.equal(true);
    });
  });

  describe('Prometheus with the repo’s scrape config and rules', () => {
    it('a PromQL query returns the request counters of both instances', async () => {
      const targets = stack.instances.map((i) => `127.0.0.1:${i.port}`);
      let seen: string[] = [];
      await until('both instances in Prometheus', async () => {
        const result = await stack.query('sum by (instance) (http_request_duration_seconds_count{job="gantry-app"})');
        seen = result.filter((r) => Number(r.value[1]) > 0).map((r) => r.metric.instance!);
        return targets.every((t) => seen.includes(t));
      });
      expect(seen).to.include.members(targets);
    });

    it('an error burst makes GantryHighErrorRatio fire', async () => {
      const app = stack.instances[0]!;
      const burst = async (n: number) => {
        const answers = await Promise.all(
          Array.from({ length: n }, () => fetch(`${app.base}${WAIT}?ms=5000`).then((r) => r.status)),
        );
        expect(
          answers.every((s) => s === 504),
          answers.join(','),
        ).to.equal(true);
      };
      // The first errors create the 504 series; rate() sees an increase only from its second sample on,
      // so the burst continues once Prometheus has scraped the series.
      await burst(10);
      await until(
        'the 504 series in Prometheus',
        async () => (await stack.query('http_request_duration_seconds_count{status_code="504"}')).length > 0,
      );
      await burst(40);
      await until(
        'GantryHighErrorRatio firing',
        async () => {
          const res = (await (await fetch(`${stack.prometheusUrl}/api/v1/alerts`)).json()) as {
            data: { alerts: { labels: { alertname: string }; state: string }[] };
          };
          return res.data.alerts.some((a) => a.labels.alertname === 'GantryHighErrorRatio' && a.state === 'firing');
        },
        60_000,
      );
    });
  });

  describe('under load through nginx', () => {
    it('a rolling restart (SIGTERM one, start it, then the other) fails no request', async () => {
      const { instance, done } = load(stack, 100);
      const sent = () => stack.instances.map((i) => stack.requestCount(i, WAIT));
      await until('load flowing to both', async () => (await Promise.all(sent())).every((n) => n > 50));
      for (const app of stack.instances) {
        const code = await stack.stopInstance(app, 'SIGTERM');
        expect(code, `${app.name} exit code after SIGTERM`).to.equal(0);
        await stack.startInstance(app);
        // Traffic reaches the restarted instance again before the next one goes down.
        await until(
          `${app.name} serving through nginx again`,
          async () => (await stack.requestCount(app, WAIT)) > 100,
          30_000,
        );
      }
      instance.stop();
      const result = await done;
      console.log(
        `      rolling restart: ${result.requests.sent} requests sent, ${result.requests.total} answered, ` +
          `${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
      );
      expect(result.requests.total).to.be.greaterThan(200);
      expect(
        failures(result),
        JSON.stringify({
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          codes: result.statusCodeStats,
        }),
      ).to.equal(0);
    });

    it('killing one instance (SIGKILL) fails no idempotent request', async () => {
      const [first, second] = stack.instances as [LoopbackStack['instances'][0], LoopbackStack['instances'][0]];
      const { instance, done } = load(stack, 100);
      await until('load flowing to the second', async () => (await stack.requestCount(second, WAIT)) > 50);
      await stack.stopInstance(second, 'SIGKILL');
      const base = await stack.requestCount(first, WAIT);
      await until(
        'the first carrying the load alone',
        async () => (await stack.requestCount(first, WAIT)) > base + 300,
      );
      instance.stop();
      const result = await done;
      console.log(
        `      SIGKILL under load: ${result.requests.sent} requests sent, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
      );
      expect(failures(result), JSON.stringify(result.statusCodeStats)).to.equal(0);
      await stack.startInstance(second);
    });
  });

  describe('PostgreSQL backup and restore (deploy/postgres)', () => {
    it('backup.sh dumps the stack database, keeps the newest BACKUP_KEEP, and restore.sh round-trips every row', () => {
      const backups = path.join(stack.dir, 'backups');
      mkdirSync(backups, { recursive: true });
      // Three older dumps already there: retention keeps the new one and the newest old one.
      for (const stamp of ['20250101T000000Z', '20250102T000000Z', '20250103T000000Z'])
        writeFileSync(path.join(backups, `${stack.database}-${stamp}.dump`), 'old');
      const env = { ...pgEnv(stack.database), BACKUP_DIR: backups, BACKUP_KEEP: '2' };
      execFileSync('sh', [repoPath('deploy/postgres/backup.sh'), 'once'], { env, stdio: 'ignore' });
      const left = readdirSync(backups).sort();
      expect(left).to.have.length(2);
      expect(left[0]).to.equal(`${stack.database}-20250103T000000Z.dump`);
      execFileSync('sh', [repoPath('deploy/postgres/backup.sh'), 'check'], { env, stdio: 'ignore' });

      const restored = `${stack.database}_restored`;
      try {
        execFileSync('sh', [repoPath('deploy/postgres/restore.sh'), path.join(backups, left[1]!), restored], {
          env: pgEnv(),
          stdio: 'ignore',
        });
        const tables = psql(
          stack.database,
          "select table_schema || '.' || table_name from information_schema.tables where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema') order by 1",
        )
          .trim()
          .split('\n');
        expect(tables.length).to.be.greaterThan(5);
        const counts: Record<string, [number, number]> = {};
        for (const t of tables) {
          const q = `select count(*) from ${t
            .split('.')
            .map((p) => `"${p}"`)
            .join('.')}`;
          counts[t] = [Number(psql(stack.database, q)), Number(psql(restored, q))];
        }
        const total = Object.values(counts).reduce((a, [n]) => a + n, 0);
        console.log(`      backup/restore: ${tables.length} tables, ${total} rows: ${JSON.stringify(counts)}`);
        expect(counts['public.sandbox_note']![0]).to.equal(25);
        expect(total).to.be.greaterThan(50);
        for (const [t, [orig, back]] of Object.entries(counts)) expect(back, t).to.equal(orig);
      } finally {
        execFileSync('dropdb', ['--if-exists', restored], { env: pgEnv(), stdio: 'ignore' });
      }
    });
  });
});
