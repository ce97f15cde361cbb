import path from 'node:path';
import type { ResolvedConfig, ResolvedPluginConfig } from '@gantry/core';
import semver from 'semver';
import type { AppOptions } from '../app-core.js';
import { columns } from '../format.js';
import { say, type CliIo } from '../io.js';
import { probePostgres, probeRedis, probeSmtp, probeTcp, probeWritable } from '../probes.js';
import { resolveApp } from './config.js';

/** The Node.js versions Gantry supports (the packages' `engines`). */
export const SUPPORTED_NODE = '>=22.12.0';

/** The outcome of one doctor check. */
export interface DoctorCheck {
  /** What was checked: `node`, `config`, or the plugin whose service was probed. */
  readonly name: string;
  readonly status: 'ok' | 'fail' | 'skip';
  /** What was found; more lines for lists (e.g. every config problem). */
  readonly detail: readonly string[];
  /** What to do about it, for a failure. */
  readonly fix?: string;
}

/** The runtime check: Node.js within the supported range. */
export function checkNode(version: string): DoctorCheck {
  if (semver.satisfies(version, SUPPORTED_NODE))
    return { name: 'node', status: 'ok', detail: [`v${version} (needs ${SUPPORTED_NODE})`] };
  return {
    name: 'node',
    status: 'fail',
    detail: [`v${version} is not supported (needs ${SUPPORTED_NODE})`],
    fix: 'install Node.js 24 LTS (or at least 22.12), e.g. with nvm install 24, and run with it',
  };
}

/**
 * `gantry doctor`: the Node.js version, the config (every problem of the boot check, starting
 * nothing), then each service the config names, probed for real: the database (PostgreSQL connect
 * and `select 1`, or a writable SQLite file), Redis (PING), SMTP (a session up to EHLO/login) or the
 * mail folder, Kafka brokers (TCP). Each failure comes with its fix. Exit 1 when anything failed.
 */
export async function doctor(io: CliIo, options: AppOptions & { json?: boolean }): Promise<number> {
  const checks: DoctorCheck[] = [checkNode(process.versions.node)];
  let setup: ResolvedConfig | undefined;
  try {
    setup = await resolveApp(options);
  } catch (err) {
    const e = err as Error & { fix?: string };
    checks.push({
      name: 'config',
      status: 'fail',
      detail: e.message.split('\n'),
      fix: e.fix ?? 'correct the config file',
    });
  }
  if (setup) {
    const file = setup.configFile ? path.relative(options.cwd, setup.configFile) || setup.configFile : 'inline config';
    checks.push(
      setup.problems.length === 0
        ? {
            name: 'config',
            status: 'ok',
            detail: [`${file}: ${setup.plugins.length} plugins, profile ${setup.profile}, no problem`],
          }
        : {
            name: 'config',
            status: 'fail',
            detail: [
              `${file} (profile ${setup.profile}): ${setup.problems.length} problem${setup.problems.length > 1 ? 's' : ''}`,
              ...setup.problems.map((p) => `- ${p}`),
            ],
            fix: 'correct each problem as its own "Fix:" says, then run gantry doctor again (gantry config print shows where each value comes from)',
          },
    );
    checks.push(...(await Promise.all(serviceChecks(setup))));
  }
  const failed = checks.filter((c) => c.status === 'fail');
  if (options.json) {
    say(io, JSON.stringify({ ok: failed.length === 0, checks }, null, 2));
    return failed.length ? 1 : 0;
  }
  say(io, `gantry doctor: ${options.cwd}${setup ? ` (profile ${setup.profile})` : ''}`, '');
  const rows: string[][] = [];
  for (const c of checks) {
    rows.push([c.status === 'fail' ? 'FAIL' : c.status, c.name, c.detail[0] ?? '']);
    for (const more of c.detail.slice(1)) rows.push(['', '', more]);
    if (c.fix && c.status === 'fail') rows.push(['', '', `fix: ${c.fix}`]);
  }
  say(io, ...columns(rows).map((l) => `  ${l}`), '');
  say(
    io,
    failed.length
      ? `${failed.length} check${failed.length > 1 ? 's' : ''} failed: ${failed.map((c) => c.name).join(', ')}`
      : 'Everything checked is OK.',
  );
  return failed.length ? 1 : 0;
}

/** One probe per service the enabled plugins name. */
function serviceChecks(setup: ResolvedConfig): Promise<DoctorCheck>[] {
  const out: Promise<DoctorCheck>[] = [];
  for (const p of setup.plugins) {
    const probe = probeFor(p, setup);
    if (!probe) continue;
    const skipped: DoctorCheck = {
      name: p.plugin.name,
      status: 'skip',
      detail: ['not probed: its options are invalid (see config)'],
    };
    out.push(p.options === undefined ? Promise.resolve(skipped) : probe());
  }
  return out;
}

type Options = Readonly<Record<string, unknown>>;

function probeFor(p: ResolvedPluginConfig, setup: ResolvedConfig): (() => Promise<DoctorCheck>) | undefined {
  const o = (p.options ?? {}) as Options;
  const name = p.plugin.name;
  const env = (key: string): string => `GANTRY_${name.replace(/-/g, '_').toUpperCase()}__${key}`;
  if (name === 'database') return () => databaseCheck(o, setup, env);
  if (name === 'redis') {
    return () => {
      const url = String(o.url);
      const where = target(url, 6379);
      return run(
        name,
        `PING ${where}: PONG`,
        () => probeRedis(url, num(o.connectTimeoutMs, 3_000)),
        `start Redis at ${where}, or point ${env('URL')} at a running one`,
      );
    };
  }
  if (name === 'mailer') return () => mailerCheck(o, setup, env);
  if ('brokers' in o) return () => brokersCheck(name, o.brokers, env('BROKERS'));
  return undefined;
}

async function databaseCheck(o: Options, setup: ResolvedConfig, env: (key: string) => string): Promise<DoctorCheck> {
  if (o.driver === 'postgresql') {
    const where = o.clientUrl ? target(String(o.clientUrl), 5432) : `${String(o.host)}:${String(o.port)}`;
    const db =
      typeof o.dbName === 'string' ? o.dbName : o.clientUrl ? new URL(String(o.clientUrl)).pathname.slice(1) : '';
    return run(
      'database',
      `PostgreSQL ${where}/${db}: connected, select 1 answered`,
      () =>
        probePostgres({
          clientUrl: o.clientUrl as string | undefined,
          host: String(o.host),
          port: num(o.port, 5432),
          user: o.user as string | undefined,
          password: o.password as string | undefined,
          database: o.dbName as string | undefined,
          timeoutMs: num(o.connectTimeoutMs, 5_000),
        }),
      `start PostgreSQL at ${where} with a database "${db}"${typeof o.user === 'string' ? ` and a role "${o.user}"` : ''}, ` +
        `or correct plugins.database (host, port, dbName, user) or ${env('CLIENT_URL')}; the password goes in ${env('PASSWORD')}`,
    );
  }
  const dbName = typeof o.dbName === 'string' ? o.dbName : 'var/data.sqlite';
  if (dbName === ':memory:')
    return { name: 'database', status: 'ok', detail: ['SQLite in memory (nothing is kept across restarts)'] };
  const file = path.resolve(setup.configDir, dbName);
  const fix = `make ${path.dirname(file)} writable by this user, or point ${env('DB_NAME')} at a writable path`;
  return run(
    'database',
    (found) => `SQLite: ${found}`,
    () => probeWritable(file, 'file'),
    fix,
  );
}

async function mailerCheck(o: Options, setup: ResolvedConfig, env: (key: string) => string): Promise<DoctorCheck> {
  // The mailer's own rule: `auto` is file in the embedded profile and smtp in every other one.
  const transport =
    o.transport === 'auto' || o.transport === undefined
      ? setup.profile === 'embedded'
        ? 'file'
        : 'smtp'
      : o.transport;
  if (transport === 'file') {
    const dir = path.resolve(setup.configDir, typeof o.outDir === 'string' ? o.outDir : 'var/mail');
    const fix = `make ${dir} writable by this user, or point ${env('OUT_DIR')} elsewhere`;
    return run(
      'mailer',
      (found) => `mail written as .eml files: ${found}`,
      () => probeWritable(dir, 'folder'),
      fix,
    );
  }
  if (typeof o.smtpUrl !== 'string') {
    return {
      name: 'mailer',
      status: 'fail',
      detail: ['transport smtp without smtpUrl'],
      fix: `set ${env('SMTP_URL')}=smtp://user:password@host:587`,
    };
  }
  const url = o.smtpUrl;
  const where = target(url, url.startsWith('smtps:') ? 465 : 587);
  return run(
    'mailer',
    `SMTP ${where}: greeting, EHLO${new URL(url).username ? ' and login' : ''} OK`,
    () =>
      probeSmtp({
        url,
        secure: o.secure as boolean | undefined,
        requireTLS: o.requireTLS === true,
        timeoutMs: num(o.sendTimeoutMs, 10_000),
      }),
    `start the SMTP server at ${where}, or correct ${env('SMTP_URL')} (user and password URL-encoded)`,
  );
}

async function brokersCheck(name: string, brokers: unknown, variable: string): Promise<DoctorCheck> {
  const list = (Array.isArray(brokers) ? brokers : String(brokers).split(','))
    .map((b) => String(b).trim())
    .filter(Boolean);
  const results = await Promise.all(
    list.map(async (b) => {
      const at = b.lastIndexOf(':');
      const host = at > 0 ? b.slice(0, at).replace(/^\[|\]$/g, '') : b;
      const port = at > 0 ? Number(b.slice(at + 1)) : 9092;
      try {
        await probeTcp(host, port, 3_000);
        return undefined;
      } catch (err) {
        return `${b}: ${describe(err)}`;
      }
    }),
  );
  const down = results.filter((r): r is string => r !== undefined);
  if (list.length === 0)
    return {
      name,
      status: 'fail',
      detail: ['no broker listed'],
      fix: `list the brokers (host:port) in ${variable} or the config`,
    };
  if (down.length === 0) return { name, status: 'ok', detail: [`Kafka brokers reachable (TCP): ${list.join(', ')}`] };
  const detail = [`${down.length} of ${list.length} Kafka brokers unreachable`, ...down];
  return { name, status: 'fail', detail, fix: `start the brokers, or correct ${variable}` };
}

/** Runs a probe: ok with `success` (or what the probe found), fail with the error and `fix`. */
async function run<T>(
  name: string,
  success: string | ((found: T) => string),
  probe: () => Promise<T>,
  fix: string,
): Promise<DoctorCheck> {
  try {
    const found = await probe();
    return { name, status: 'ok', detail: [typeof success === 'string' ? success : success(found)] };
  } catch (err) {
    return { name, status: 'fail', detail: [describe(err)], fix };
  }
}

/** A connection error in one line: Node gives an AggregateError without message when every address of a host refused. */
function describe(err: unknown): string {
  const e = err as Error & { code?: string; errors?: unknown[] };
  if (e?.message) return e.message;
  if (Array.isArray(e?.errors) && e.errors.length) return e.errors.map(describe).join('; ');
  return e?.code ?? String(err);
}

/** `host:port` of a service URL, never its credentials. */
function target(url: string, defaultPort: number): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || defaultPort}`;
  } catch {
    return '(unparsable URL)';
  }
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}
