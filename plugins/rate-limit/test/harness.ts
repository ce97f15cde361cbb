import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { CoreErrors, definePlugin, type Logger, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as redisPlugin } from '@gantry/plugin-redis';
import { createTestKernel, type InjectResponse, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { BUILTIN_POLICIES, plugin } from '../src/index.js';

/** The Redis every Redis test uses (already running on this machine). */
export const REDIS_URL = 'redis://127.0.0.1:6379';

/** The one password the app's /auth/login accepts (any email); every other answers 401. */
export const PASSWORD = 'correct-password';

/**
 * A policy like the `auth` policy before it had per-(account, IP) counters: 10 requests per 15 min per
 * IP and per account, every request counted. Tests of the keying mechanics use it.
 */
export const CLASSIC_AUTH = { windowMs: 900_000, limit: 10, keyBy: 'ip+body.email' };

/** How many times the app's /auth/login handler ran (to show a held request that was abandoned never reaches it). */
export const loginHandled = { count: 0 };

/** Routes of a small app, one per kind of declaration. */
export const appRoutes: Plugin = definePlugin({
  name: 'rl-app',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    const credentials = z.object({ email: z.string(), password: z.string() });
    // Echoes the email it parsed: shows the body reaches the handler intact after the account guard read it.
    ctx.http.post('/auth/login', { schema: { body: credentials }, meta: { rateLimit: 'auth' } }, (req) => {
      loginHandled.count++;
      if (req.body.password !== PASSWORD) throw CoreErrors.UNAUTHORIZED('wrong email or password');
      return { ok: true, email: req.body.email, passwordLength: req.body.password.length };
    });
    ctx.http.post('/auth/refresh', { meta: { rateLimit: 'refresh' } }, () => ({ ok: true }));
    ctx.http.get('/notes', {}, () => ({ notes: [] }));
    ctx.http.get('/search', { meta: { rateLimit: 'search' } }, () => ({ hits: [] }));
    ctx.http.get('/webhook', { meta: { rateLimit: false } }, () => ({ ok: true }));
    ctx.http.get('/status', { root: true }, () => ({ ok: true }));
  },
});

/** A plugin declaring a route with the given `meta.rateLimit`. */
export function routeDeclaring(rateLimit: unknown): Plugin {
  return definePlugin({
    name: 'rl-declaring',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http'],
    register(ctx) {
      ctx.http.get('/declared', { meta: { rateLimit } }, () => ({ ok: true }));
    },
  });
}

/** The `search` policy of the app's /search route unless a test sets its own. */
export const SEARCH_POLICY = { windowMs: 10_000, limit: 2 };

/** Boots http + rate-limit + the app routes, and the redis plugin with `options.redis` when given. */
export function boot(
  options: {
    rateLimit?: Record<string, unknown>;
    redis?: Record<string, unknown>;
    http?: Record<string, unknown>;
    extra?: readonly Plugin[];
    profile?: string;
    logger?: Logger;
  } = {},
): Promise<TestKernel> {
  const rateLimit = options.rateLimit ?? { store: 'memory' };
  const policies = { search: SEARCH_POLICY, ...((rateLimit.policies as Record<string, unknown> | undefined) ?? {}) };
  return createTestKernel({
    plugins: [httpPlugin, ...(options.redis ? [redisPlugin] : []), ...(options.extra ?? []), plugin, appRoutes],
    config: {
      http: options.http ?? {},
      'rate-limit': { ...rateLimit, policies },
      ...(options.redis ? { redis: options.redis } : {}),
    },
    profile: options.profile,
    logger: options.logger,
  });
}

/** POST /auth/login with a JSON body (the right password unless told), optionally from another client address or through a proxy. */
export function login(
  kernel: TestKernel,
  options: { email?: string; password?: string; remoteAddress?: string; headers?: Record<string, string> } = {},
): Promise<InjectResponse> {
  return kernel.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: options.email ?? 'alice@example.com', password: options.password ?? PASSWORD },
    ...(options.remoteAddress ? { remoteAddress: options.remoteAddress } : {}),
    headers: options.headers ?? {},
  });
}

/** `auth` with a small per-account budget and short delays, so that spraying fits in a test. */
export const SMALL_ACCOUNT_BUDGET = {
  ...BUILTIN_POLICIES.auth,
  perAccount: {
    windowMs: 3_600_000,
    limit: 6,
    count: 'failures',
    delay: { after: 2, initialMs: 40, maxMs: 80 },
    knownSourceMs: 86_400_000,
  },
};

/** A wrong password for `email` from `ip`. */
export function guess(kernel: TestKernel, email: string, ip: string): Promise<InjectResponse> {
  return login(kernel, { email, password: 'wrong-guess', remoteAddress: ip });
}

/** Sends `count` requests one after the other and returns the responses. */
export async function repeat(count: number, send: (i: number) => Promise<InjectResponse>): Promise<InjectResponse[]> {
  const out: InjectResponse[] = [];
  for (let i = 0; i < count; i++) out.push(await send(i));
  return out;
}

/** A response header as one string (repeated headers joined with ", ", as HTTP allows). */
export function header(res: InjectResponse, name: string): string | undefined {
  const value = res.headers[name];
  return value === undefined
    ? undefined
    : ([] as (string | number)[]).concat(value as string | number | string[]).join(', ');
}

/** What a 429 must say. */
export interface Refusal {
  readonly policy: string;
  /** Which counter refused: per client IP, per (account, IP) pair or per account (`ip+body.<field>` policies). */
  readonly per?: 'ip' | 'account-ip' | 'account';
  readonly limit: number;
  readonly windowSeconds: number;
}

/** Asserts a 429 problem+json of the policy, with the draft-8 RateLimit / RateLimit-Policy headers and Retry-After. */
export function expectRateLimited(res: InjectResponse, expected: Refusal): void {
  const { policy, limit, windowSeconds } = expected;
  const per = expected.per ?? 'ip';
  expect(res.statusCode, res.body).to.equal(429);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  const problem = res.json();
  expect(problem).to.include({ status: 429, code: 'GANTRY_RATE_LIMIT_EXCEEDED', policy, per, limit, windowSeconds });
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).to.be.within(1, windowSeconds);
  expect(problem.retryAfterSeconds).to.equal(retryAfter);
  const name = (per === 'ip' ? policy : `${policy}.${per}`).replace(/\./g, '\\.');
  expect(header(res, 'ratelimit')).to.match(new RegExp(`"${name}"; r=0; t=\\d+(,|$)`));
  expect(header(res, 'ratelimit-policy')).to.match(
    new RegExp(`"${name}"; q=${limit}; w=${windowSeconds}; pk=:[A-Za-z0-9+/=]+:`),
  );
}

/** A key prefix of its own for one test run, so runs never see each other's counters. */
export function uniquePrefix(): string {
  return `gantry:rl-test:${randomBytes(6).toString('hex')}:`;
}

/** Deletes every key under a prefix and closes the client used for it. */
export async function deleteKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    await redis.quit();
  }
}

/** Lists the keys under a prefix. */
export async function keysUnder(prefix: string): Promise<string[]> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    return (await redis.keys(`${prefix}*`)).sort();
  } finally {
    await redis.quit();
  }
}

/**
 * A TCP relay to the real Redis that can be cut and restored on the same port: a Redis outage and
 * its end, without touching the shared Redis server.
 */
export class RedisRelay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private constructor(private port: number) {}

  /** Starts relaying on a free loopback port. */
  static async start(): Promise<RedisRelay> {
    const relay = new RedisRelay(0);
    await relay.resume();
    return relay;
  }

  /** `redis://127.0.0.1:<port>`. */
  url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) accepting connections on the same port. */
  async resume(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(6379, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (addr && typeof addr === 'object') this.port = addr.port;
    this.server = server;
  }

  /** Refuses new connections and cuts the open ones: Redis is unreachable. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Polls until `probe` returns true (an outage or a reconnect happens in the background), at most `attempts` times. */
export async function eventually(probe: () => Promise<boolean>, attempts = 100, everyMs = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`condition not reached after ${attempts} attempts`);
}
