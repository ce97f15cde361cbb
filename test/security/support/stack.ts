// The sandbox's identity stack as two instances sharing the real PostgreSQL (one schema per run),
// the real Redis (one key prefix per run) and a real MailDev: what the must-hold tests run against.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as auditPlugin } from '@gantry/plugin-audit';
import { plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { DatabaseToken, plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as mailerPlugin } from '@gantry/plugin-mailer';
import { plugin as mfaPlugin } from '@gantry/plugin-mfa';
import { plugin as rateLimitPlugin } from '@gantry/plugin-rate-limit';
import { plugin as rbacPlugin } from '@gantry/plugin-rbac';
import { plugin as redisPlugin } from '@gantry/plugin-redis';
import { plugin as sessionsPlugin } from '@gantry/plugin-sessions-redis';
import { plugin as usersPlugin, UsersToken } from '@gantry/plugin-users';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { MailCatcher } from '@gantry/testing/maildev';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const PG = {
  driver: 'postgresql',
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  user: 'postgres',
  dbName: 'test',
};
export const BASE_URL = 'https://app.gantry.test';
export const ISSUER = 'https://api.gantry.test';
export const AUDIENCE = 'gantry-sandbox';

/** A response, parsed. */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: any;
  readonly text: string;
}

/** Options of one request. */
export interface CallOptions {
  readonly body?: unknown;
  readonly token?: string;
  readonly cookie?: string;
  readonly headers?: Record<string, string>;
  /** Client address; default: a new random one per request, so rate limits only bite where a test means them to. */
  readonly ip?: string;
}

/** One app instance. */
export interface Instance {
  readonly tk: TestKernel;
  call(method: string, url: string, options?: CallOptions): Promise<Reply>;
}

/** Two instances and the services they share. */
export class Cluster {
  readonly prefix = `gantry:sec-test:${randomUUID()}:`;
  readonly schema = `gantry_sec_${randomBytes(5).toString('hex')}`;
  readonly mail = new MailCatcher();
  readonly key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  readonly kid = 'sec-1';
  readonly csrfSecret = randomBytes(32).toString('base64url');
  readonly mfaKey = randomBytes(32).toString('base64');
  /** Every response body seen, to check no secret ever left the server. */
  readonly seen: string[] = [];
  a!: Instance;
  b!: Instance;
  private readonly kernels: TestKernel[] = [];

  async start(): Promise<void> {
    await this.mail.start();
    this.a = await this.instance();
    this.b = await this.instance();
  }

  async instance(): Promise<Instance> {
    const tk = await createTestKernel({
      plugins: [
        httpPlugin,
        redisPlugin,
        databasePlugin,
        auditPlugin,
        rbacPlugin,
        authJwtPlugin,
        rateLimitPlugin,
        mailerPlugin,
        sessionsPlugin,
        usersPlugin,
        mfaPlugin,
      ],
      profile: 'compose',
      config: {
        http: { listen: false, bodyLimit: '16kb' },
        redis: { url: REDIS_URL },
        database: { ...PG, schema: this.schema },
        'auth-jwt': {
          issuer: ISSUER,
          audience: AUDIENCE,
          store: 'redis',
          prefix: `${this.prefix}jwt:`,
          keys: [{ kid: this.kid, privateKey: this.key.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }],
        },
        'rate-limit': { store: 'redis', prefix: `${this.prefix}rl:` },
        mailer: { transport: 'smtp', smtpUrl: this.mail.smtpUrl(), from: 'noreply@gantry.test', baseUrl: BASE_URL },
        'sessions-redis': { store: 'redis', prefix: `${this.prefix}sess:`, csrfSecret: this.csrfSecret },
        users: { newLoginNotice: false },
        mfa: { encryptionKey: this.mfaKey },
      },
    });
    this.kernels.push(tk);
    const seen = this.seen;
    return {
      tk,
      async call(method, url, o = {}) {
        const headers: Record<string, string> = {
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(o.cookie ? { cookie: o.cookie } : {}),
          ...(o.headers ?? {}),
        };
        const remoteAddress = o.ip ?? `10.${rand()}.${rand()}.${rand()}`;
        const res = await tk.inject({
          method: method as 'GET',
          url,
          headers,
          remoteAddress,
          ...(o.body !== undefined ? { payload: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
        });
        seen.push(res.body);
        let body: unknown;
        try {
          body = res.body ? JSON.parse(res.body) : undefined;
        } catch {
          body = undefined;
        }
        return { status: res.statusCode, headers: res.headers as Reply['headers'], body, text: res.body };
      },
    };
  }

  /** Seeds an administrator directly (the sandbox does it from the environment). */
  async admin(email: string, password: string): Promise<string> {
    const { user } = await this.a.tk
      .get(UsersToken)
      .ensureAccount({ email, password, name: 'Admin', roles: ['admin', 'user'] });
    return user.id;
  }

  /** Raw SQL on the run's schema. */
  async sql(query: string, params: unknown[] = []): Promise<unknown[]> {
    const em = this.a.tk.get(DatabaseToken).orm().em.fork();
    return em.getConnection().execute(query.replaceAll('{s}', `"${this.schema}"`), params);
  }

  async stop(): Promise<void> {
    const sql = this.kernels.length ? this.sql.bind(this) : undefined;
    if (sql) await sql(`drop schema if exists {s} cascade`).catch(() => undefined);
    while (this.kernels.length) await this.kernels.pop()!.stop();
    await this.mail.dispose();
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${this.prefix}*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  }
}

function rand(): number {
  return Math.floor(Math.random() * 250) + 1;
}

/** Every `name=value` the response sets, joined for a Cookie header. */
export function cookiesFrom(reply: Reply): string {
  const raw = reply.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  return list.map((c) => c.split(';')[0]).join('; ');
}

/** The `name=value` of a Set-Cookie header with that cookie name. */
export function cookieFrom(reply: Reply, name: string): string | undefined {
  const raw = reply.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [raw] : [];
  const found = list.find((c) => c.startsWith(`${name}=`));
  return found?.split(';')[0];
}

/** The newest mail to `to` whose subject matches (waits up to 5 s: some mails leave after the answer). */
export async function mailTo(
  cluster: Cluster,
  to: string,
  subject: RegExp,
  newerThan = 0,
): Promise<{ subject: string; text: string; index: number }> {
  for (let i = 0; i < 100; i++) {
    const all = await cluster.mail.all();
    for (let index = all.length - 1; index >= newerThan; index--) {
      const m = all[index]!;
      if (m.to.some((a) => a.address.toLowerCase() === to.toLowerCase()) && subject.test(m.subject))
        return { subject: m.subject, text: m.text ?? '', index };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no mail to ${to} with a subject matching ${subject}`);
}

/** The number of mails MailDev holds (to look only at newer ones). */
export async function mailCount(cluster: Cluster): Promise<number> {
  return (await cluster.mail.all()).length;
}

/** The link and token of a mail. */
export function linkIn(text: string): { link: string; token: string } {
  const match = /(https?:\/\/\S+?token=([A-Za-z0-9_-]{43}))/.exec(text);
  if (!match) throw new Error(`no token link in: ${text}`);
  return { link: match[1]!, token: match[2]! };
}
