// Test kernels with a listening HTTP server, auth-jwt, sessions, rbac on SQLite, and the websocket
// plugin; plus a small WebSocket client that records what it receives.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { definePlugin, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { AuthJwtToken, plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as rbacPlugin, RbacToken } from '@gantry/plugin-rbac';
import { plugin as sessionsPlugin, SessionsToken } from '@gantry/plugin-sessions-redis';
import { createTestKernel, type TestKernel } from '@gantry/testing';
import { WebSocket } from 'ws';
import { plugin as websocketPlugin, WebSocketToken } from '../../src/index.js';

export const ORIGIN = 'https://app.example';
const dir = mkdtempSync(path.join(tmpdir(), 'gantry-ws-'));
let n = 0;

/** A plugin declaring the channels the tests use, and a route that opens a cookie session. */
export const feed: Plugin = definePlugin({
  name: 'feed',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http', 'websocket', 'sessions-redis'],
  register(ctx) {
    const hub = ctx.container.get(WebSocketToken);
    hub.channel({ name: 'news', access: 'public' });
    hub.channel({ name: 'members', access: 'authenticated' });
    hub.channel({ name: 'ops', access: { permission: 'ops:read' } });
    hub.forward<{ userId: string; text: string }>({
      topic: 'feed.notified',
      to: (event) => `user:${event.payload.userId}`,
      data: (event) => ({ text: event.payload.text }),
    });
    const sessions = ctx.container.get(SessionsToken);
    ctx.http.post<{ id: string }, unknown, unknown>(
      '/test-login/:id',
      { meta: { public: true } },
      async (req, reply) => {
        await sessions.establish(req.raw, reply.raw, req.params.id);
        return undefined;
      },
    );
  },
});

/** Boots a listening kernel with the websocket plugin; `websocket` options override the defaults. */
export async function boot(
  options: {
    websocket?: Record<string, unknown>;
    extra?: readonly Plugin[];
    config?: Record<string, Record<string, unknown>>;
  } = {},
): Promise<TestKernel> {
  return createTestKernel({
    plugins: [
      httpPlugin,
      databasePlugin,
      authJwtPlugin,
      sessionsPlugin,
      rbacPlugin,
      websocketPlugin,
      feed,
      ...(options.extra ?? []),
    ],
    config: {
      http: { listen: true, port: 0, host: '127.0.0.1' },
      database: { driver: 'sqlite', dbName: path.join(dir, `ws-${++n}.sqlite`), migrateOnStart: true },
      'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test', store: 'memory' },
      rbac: { roles: { operator: { description: 'Reads ops', permissions: ['ops:read'] } } },
      websocket: { allowedOrigins: [ORIGIN], authTimeoutMs: 2_000, ...options.websocket },
      ...options.config,
    },
  });
}

/** An access token for `userId` issued by the kernel's auth-jwt. */
export async function tokenFor(kernel: TestKernel, userId: string): Promise<string> {
  return (await kernel.get(AuthJwtToken).issuePair(userId)).accessToken;
}

/** Grants `role` to `userId`. */
export async function grant(kernel: TestKernel, userId: string, role: string): Promise<void> {
  await kernel.get(RbacToken).grant(userId, role);
}

/** The ws:// URL of the kernel's WebSocket endpoint. */
export function wsUrl(kernel: TestKernel): string {
  return `${kernel.url().replace(/^http/, 'ws')}/ws`;
}

/** A connected client: every JSON message it got, and waits bounded by a deadline. */
export interface Peer {
  readonly ws: WebSocket;
  readonly received: Record<string, unknown>[];
  /** Resolves with the first message (already received or future) matching `test`; rejects after `ms`. */
  next(test: (m: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** Resolves with the close code. */
  readonly closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
}

/** Outcome of an upgrade: a peer, or the HTTP status and body of the refusal. */
export type Attempt = { ok: true; peer: Peer } | { ok: false; status: number; body: Record<string, unknown> };

/** Opens a WebSocket; resolves once open (or refused). */
export function connect(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string>; autoPong?: boolean } = {},
): Promise<Attempt> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols ?? ['gantry.v1'], {
      headers: options.headers,
      autoPong: options.autoPong ?? true,
    });
    const received: Record<string, unknown>[] = [];
    const waiters: { test: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] =
      [];
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      received.push(m);
      for (const w of [...waiters])
        if (w.test(m)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
    });
    const closed = new Promise<{ code: number; reason: string }>((res) =>
      ws.on('close', (code, reason) => res({ code, reason: reason.toString() })),
    );
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ ok: false, status: res.statusCode ?? 0, body: body ? JSON.parse(body) : {} }));
    });
    ws.on('error', (err) => reject(err));
    ws.on('open', () => {
      const peer: Peer = {
        ws,
        received,
        closed,
        send: (message) => ws.send(typeof message === 'string' ? message : JSON.stringify(message)),
        next: (test, ms = 5_000) => {
          const found = received.find(test);
          if (found) return Promise.resolve(found);
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no matching message within ${ms} ms`)), ms);
            waiters.push({
              test,
              resolve: (m) => {
                clearTimeout(timer);
                res(m);
              },
            });
          });
        },
      };
      resolve({ ok: true, peer });
    });
  });
}

/** Connects and expects success. */
export async function open(url: string, options: Parameters<typeof connect>[1] = {}): Promise<Peer> {
  const attempt = await connect(url, options);
  if (!attempt.ok) throw new Error(`upgrade refused: ${attempt.status} ${JSON.stringify(attempt.body)}`);
  return attempt.peer;
}

/** Connects with a bearer token in the subprotocol and waits for the welcome. */
export async function signedIn(url: string, token: string, headers?: Record<string, string>): Promise<Peer> {
  const peer = await open(url, { protocols: ['gantry.v1', `gantry.bearer.${token}`], headers });
  await peer.next((m) => m.type === 'welcome');
  return peer;
}

/** Waits until `condition` holds, checking every 10 ms, failing after `ms`. */
export async function until(condition: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
