import { currentContext, definePlugin, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import {
  createTestKernel,
  permissionStandIn as makeStandIn,
  type InjectOptions,
  type InjectResponse,
  type LogLine,
  memoryLogger,
  type TestKernel,
} from '@gantry/testing';
import { z } from 'zod';
import { plugin, SessionsToken, type SessionView } from '../../src/index.js';

/** Principals whose id starts with this hold every permission in {@link permissionStandIn}. */
export const ADMIN_PREFIX = 'admin-';

/**
 * Test stand-in for rbac (which this plugin must not depend on): `authenticated` needs a principal;
 * any other permission needs a principal whose id starts with {@link ADMIN_PREFIX}.
 */
export const permissionStandIn: Plugin = makeStandIn(
  (principal, permission) => permission === 'authenticated' || principal.id.startsWith(ADMIN_PREFIX),
);

/**
 * The test app: `POST /login-test` signs `body.userId` in (after setting a `theme` cookie when asked) with a cookie session (what the users plugin
 * does on a `session: true` login), `POST /logout-test` ends it, `GET /whoami` and `POST /notes` accept
 * any credential, `POST /session-only` only the cookie. Every revocation the service reports is kept in `revoked`.
 */
export function sessionApp(revoked: Omit<SessionView, 'current'>[]): Plugin {
  return definePlugin({
    name: 'session-test-app',
    version: '0.1.0',
    kernel: '^0.1.0',
    dependsOn: ['http', 'sessions-redis'],
    requires: [SessionsToken],
    register(ctx) {
      const sessions = ctx.container.get(SessionsToken);
      sessions.onRevoke((view) => void revoked.push(view));
      const principal = () => currentContext()?.principal ?? null;
      ctx.http.post(
        '/login-test',
        { meta: { public: true }, schema: { body: z.object({ userId: z.string(), theme: z.string().optional() }) } },
        (req, reply) => {
          // Another cookie set before establish(): it must survive.
          if (req.body.theme) reply.header('set-cookie', `theme=${req.body.theme}`);
          return sessions.establish(req.raw, reply.raw, req.body.userId);
        },
      );
      ctx.http.post('/logout-test', { meta: { auth: 'session' } }, async (req, reply) => {
        await sessions.destroyCurrent(req.raw, reply.raw);
        return undefined;
      });
      ctx.http.get('/whoami', { meta: { auth: true } }, () => ({ principal: principal() }));
      ctx.http.post('/notes', { meta: { auth: true }, status: 201 }, () => ({ by: principal() }));
      ctx.http.post('/session-only', { meta: { auth: 'session' }, status: 201 }, () => ({ by: principal() }));
    },
  });
}

/** How a suite's kernels reach their store. */
export interface StoreTarget {
  readonly name: 'memory' | 'redis';
  /** Plugins the store needs (the redis plugin). */
  readonly plugins: readonly Plugin[];
  /** Config of those plugins and the sessions-redis options selecting the store. */
  config(): Record<string, Record<string, unknown>>;
}

/** The memory store: nothing else needed. */
export const memoryTarget: StoreTarget = {
  name: 'memory',
  plugins: [],
  config: () => ({ 'sessions-redis': { store: 'memory' } }),
};

/** A booted kernel of the test app, the revocations its listener saw and its log lines. */
export interface Booted {
  readonly tk: TestKernel;
  readonly revoked: Omit<SessionView, 'current'>[];
  readonly lines: LogLine[];
}

/** Boots kernels on a target (with real auth-jwt for bearer requests) and stops them all afterwards. */
export class Kernels {
  private readonly started: TestKernel[] = [];

  constructor(private readonly target: StoreTarget) {}

  async boot(options: Record<string, unknown> = {}): Promise<Booted> {
    const revoked: Omit<SessionView, 'current'>[] = [];
    const lines: LogLine[] = [];
    const base = this.target.config();
    const tk = await createTestKernel({
      plugins: [httpPlugin, ...this.target.plugins, authJwtPlugin, plugin, permissionStandIn, sessionApp(revoked)],
      config: {
        ...base,
        'auth-jwt': { issuer: 'https://sessions.test', audience: 'sessions-test', store: 'memory' },
        'sessions-redis': { ...base['sessions-redis'], ...options },
      },
      logger: memoryLogger(lines),
    });
    this.started.push(tk);
    return { tk, revoked, lines };
  }

  async stopAll(): Promise<void> {
    while (this.started.length > 0) await this.started.pop()!.stop();
  }
}

/** One cookie as a Set-Cookie header set it. */
export interface SetCookie {
  readonly name: string;
  readonly value: string;
  /** Attributes as written, e.g. `["Path=/", "Secure", "HttpOnly", "SameSite=Lax"]`. */
  readonly attributes: readonly string[];
}

/** Every Set-Cookie of a response, in order. */
export function setCookies(res: InjectResponse): SetCookie[] {
  const raw = res.headers['set-cookie'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [String(raw)];
  return list.map((line) => {
    const [pair, ...attributes] = line.split(';').map((s) => s.trim());
    const eq = pair!.indexOf('=');
    return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), attributes };
  });
}

/** The problem code of a response. */
export function codeOf(res: InjectResponse): string | undefined {
  return (JSON.parse(res.body) as { code?: string }).code;
}

export const SESSION_COOKIE = '__Host-gantry.sid';
export const CSRF_COOKIE = '__Host-gantry.csrf';

/** A minimal browser: keeps the cookies responses set (Max-Age=0 deletes), sends them back, and remembers the last CSRF token. */
export class Browser {
  readonly jar = new Map<string, string>();
  csrfToken: string | undefined;

  /** Sends a request to `tk` with this browser's cookies. */
  async send(tk: TestKernel, options: InjectOptions): Promise<InjectResponse> {
    const headers: Record<string, string> = { ...((options.headers as Record<string, string> | undefined) ?? {}) };
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await tk.inject({ ...options, headers });
    for (const c of setCookies(res)) {
      if (c.attributes.includes('Max-Age=0')) this.jar.delete(c.name);
      else this.jar.set(c.name, c.value);
    }
    return res;
  }

  /** Signs `userId` in through POST /login-test and keeps the CSRF token. */
  async login(
    tk: TestKernel,
    userId: string,
  ): Promise<{ id: string; csrfToken: string; expiresAt: string; idleTimeoutSeconds: number }> {
    const res = await this.send(tk, { method: 'POST', url: '/api/v1/login-test', payload: { userId } });
    if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
    const body = JSON.parse(res.body) as {
      id: string;
      csrfToken: string;
      expiresAt: string;
      idleTimeoutSeconds: number;
    };
    this.csrfToken = body.csrfToken;
    return body;
  }

  /** An unsafe same-origin request with the CSRF token, as a well-behaved front-end sends it. */
  post(tk: TestKernel, url: string, headers: Record<string, string> = {}): Promise<InjectResponse> {
    return this.send(tk, {
      method: 'POST',
      url,
      headers: {
        'sec-fetch-site': 'same-origin',
        origin: 'http://localhost:80',
        ...(this.csrfToken ? { 'x-csrf-token': this.csrfToken } : {}),
        ...headers,
      },
    });
  }

  /** The session cookie value, if set. */
  get sessionCookie(): string | undefined {
    return this.jar.get(SESSION_COOKIE);
  }
}

/** Waits `ms` milliseconds (real time: the timeouts under test are real). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
