// Boots the full identity stack with the oauth plugin, listening on a loopback port, behind the
// public origin https://app.gantry.test (the test browser maps it to that port), and drives sign-ins
// through the provider's own pages.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { AuditToken, plugin as auditPlugin, type AuditEntry } from '@gantry/plugin-audit';
import { plugin as authJwtPlugin } from '@gantry/plugin-auth-jwt';
import { plugin as databasePlugin } from '@gantry/plugin-database';
import { plugin as mailerPlugin } from '@gantry/plugin-mailer';
import { plugin as rbacPlugin } from '@gantry/plugin-rbac';
import { plugin as sessionsPlugin } from '@gantry/plugin-sessions-redis';
import { plugin as usersPlugin } from '@gantry/plugin-users';
import {
  Browser,
  createTestKernel,
  throughProvider as walkProvider,
  type Page,
  type TestKernel,
} from '@gantry/testing';
import { expect } from 'chai';
import { plugin as oauthPlugin } from '../../src/index.js';

/** The API's public origin, as configured in `callbackBaseUrl`. */
export const PUBLIC_ORIGIN = 'https://app.gantry.test';

/** A password no policy refuses. */
export const PASSWORD = 'Correct-Horse-Battery-9';

/** The redirect URI the plugin builds for a provider. */
export function callbackUrl(provider: string): string {
  return `${PUBLIC_ORIGIN}/api/v1/auth/oauth/${provider}/callback`;
}

/** A booted application. */
export interface App {
  readonly tk: TestKernel;
  /** A new browser that reaches the app at {@link PUBLIC_ORIGIN}. */
  browser(): Browser;
  /** Sends a JSON request to the app (an API client, not a browser). */
  api(
    method: string,
    route: string,
    options?: { body?: unknown; token?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; text: string; headers: Headers }>;
  /** `auth.oauth.login` entries of the audit trail, newest first. */
  oauthAudit(): Promise<readonly AuditEntry[]>;
  stop(): Promise<void>;
}

/** Options of {@link bootApp}. */
export interface AppOptions {
  readonly oauth: Record<string, unknown>;
  readonly database?: Record<string, unknown>;
  /** Enables sessions-redis (memory store) for ?mode=session. */
  readonly sessions?: boolean;
}

/** Boots http (listening), database, audit, rbac, auth-jwt, mailer, users, [sessions-redis] and oauth. */
export async function bootApp(options: AppOptions): Promise<App> {
  const mailDir = mkdtempSync(path.join(os.tmpdir(), 'gantry-oauth-mail-'));
  const plugins: Plugin[] = [
    httpPlugin,
    databasePlugin,
    auditPlugin,
    rbacPlugin,
    authJwtPlugin,
    mailerPlugin,
    ...(options.sessions ? [sessionsPlugin] : []),
    usersPlugin,
    oauthPlugin,
  ];
  let tk: TestKernel;
  try {
    tk = await createTestKernel({
      plugins,
      config: {
        http: { listen: true, port: 0, host: '127.0.0.1' },
        database: options.database ?? { dbName: ':memory:' },
        'auth-jwt': { issuer: 'https://gantry.test', audience: 'gantry-test', store: 'memory' },
        mailer: { transport: 'file', from: 'noreply@gantry.test', baseUrl: PUBLIC_ORIGIN, outDir: mailDir },
        users: { newLoginNotice: false },
        ...(options.sessions ? { 'sessions-redis': { store: 'memory' } } : {}),
        oauth: { callbackBaseUrl: PUBLIC_ORIGIN, ...options.oauth },
      },
    });
  } catch (err) {
    rmSync(mailDir, { recursive: true, force: true });
    throw err;
  }
  const base = tk.url();
  return {
    tk,
    browser: () => new Browser({ [PUBLIC_ORIGIN]: base }),
    async api(method, route, o = {}) {
      const res = await fetch(`${base}${route}`, {
        method,
        headers: {
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(o.headers ?? {}),
        },
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
      });
      const text = await res.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.status, body, text, headers: res.headers };
    },
    async oauthAudit() {
      return (await tk.get(AuditToken).query({ action: 'auth.oauth.login', limit: 500 })).items;
    },
    async stop() {
      await tk.stop();
      rmSync(mailDir, { recursive: true, force: true });
    },
  };
}

/** The provider's login and consent pages as `login`, until it redirects back to the app (its callback URL). */
export function throughProvider(browser: Browser, url: URL, login: string): Promise<URL> {
  return walkProvider(browser, url, login, PUBLIC_ORIGIN);
}

/** Starts a sign-in at the app; asserts the 302 to the provider and returns it. */
export async function start(browser: Browser, provider: string, query = ''): Promise<Page> {
  const page = await browser.get(`${PUBLIC_ORIGIN}/api/v1/auth/oauth/${provider}${query}`);
  expect(page.status, page.text).to.equal(302);
  return page;
}

/** A whole sign-in: start at the app, through the provider as `login`, then the app's callback. */
export async function signIn(browser: Browser, provider: string, login: string, query = ''): Promise<Page> {
  const started = await start(browser, provider, query);
  const callback = await throughProvider(browser, started.location!, login);
  return browser.get(callback);
}
