import { createHmac, generateKeyPairSync } from 'node:crypto';
import { currentContext, definePlugin, type Plugin } from '@gantry/core';
import { plugin as httpPlugin } from '@gantry/http';
import { createTestKernel, permissionStandIn, type InjectResponse, type TestKernel } from '@gantry/testing';
import { importPKCS8, SignJWT, type JWTPayload } from 'jose';
import { plugin } from '../src/index.js';

export const ISSUER = 'https://auth.test';
export const AUDIENCE = 'gantry-test';

/** A P-256 key pair as PEM, the way an operator would provide it. */
export interface PemKey {
  readonly kid: string;
  readonly privatePem: string;
  readonly publicPem: string;
}

/** Generates an ES256 key pair as PEM. */
export function pemKey(kid: string): PemKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

/** A small app: a bearer route echoing the principal, a permission route, a public and an open route. */
export const appRoutes: Plugin = definePlugin({
  name: 'jwt-app',
  version: '0.1.0',
  kernel: '^0.1.0',
  dependsOn: ['http'],
  register(ctx) {
    ctx.http.get('/me', { meta: { auth: 'bearer' } }, () => ({ principal: currentContext()?.principal ?? null }));
    ctx.http.get('/notes', { meta: { permission: 'notes:read' } }, () => ({
      id: currentContext()?.principal?.id ?? null,
    }));
    ctx.http.get('/open', { meta: { public: true } }, () => ({ principal: currentContext()?.principal ?? null }));
    ctx.http.get('/public', { meta: { public: true, auth: 'bearer' } }, () => ({ ok: true }));
  },
});

/** Test stand-in for rbac (which auth-jwt must not depend on): a permission is granted by the token's `permissions` claim. */
export const claimPermissions: Plugin = permissionStandIn((principal, permission) => {
  const claims = principal.claims as { permissions?: unknown } | undefined;
  return Array.isArray(claims?.permissions) && claims.permissions.includes(permission);
});

/** Boots http + auth-jwt + the app with the memory store. */
export function boot(
  options: { keys?: readonly PemKey[]; authJwt?: Record<string, unknown> } = {},
): Promise<TestKernel> {
  const keys = options.keys?.map((k) => ({ kid: k.kid, privateKey: k.privatePem }));
  return createTestKernel({
    plugins: [httpPlugin, plugin, claimPermissions, appRoutes],
    config: {
      'auth-jwt': {
        issuer: ISSUER,
        audience: AUDIENCE,
        store: 'memory',
        ...(keys ? { keys } : {}),
        ...(options.authJwt ?? {}),
      },
    },
  });
}

/** GET a path with an optional bearer token (or a raw Authorization header). */
export function get(
  kernel: TestKernel,
  url: string,
  auth?: { token?: string; header?: string },
): Promise<InjectResponse> {
  const headers: Record<string, string> = {};
  if (auth?.token !== undefined) headers.authorization = `Bearer ${auth.token}`;
  if (auth?.header !== undefined) headers.authorization = auth.header;
  return kernel.inject({ method: 'GET', url, headers });
}

/** Signs a token with `key` exactly as given: lets tests forge tokens the service would never issue. */
export async function forge(key: PemKey, header: Record<string, unknown>, payload: JWTPayload): Promise<string> {
  const privateKey = await importPKCS8(key.privatePem, 'ES256');
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', ...header })
    .sign(privateKey);
}

/** Claims of a valid access token, to be altered one at a time. */
export function validClaims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    jti: 'jti-1',
    fid: 'fam-1',
    iat: now,
    exp: now + 300,
    ...overrides,
  };
}

/** base64url of a JSON value. */
export function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An HS256 token whose HMAC secret is the public key's PEM bytes (the algorithm-confusion attack). */
export function hs256WithPublicKey(key: PemKey, payload: JWTPayload): string {
  const input = `${b64({ alg: 'HS256', kid: key.kid, typ: 'at+jwt' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', key.publicPem).update(input).digest('base64url')}`;
}

/** The problem body of a response. */
export function problem(res: InjectResponse): { code?: string; status?: number } {
  return JSON.parse(res.body) as { code?: string; status?: number };
}
