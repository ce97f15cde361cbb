/**
 * The "full stack" comparison's parts, shared by the bench (full-stack.bench.ts) and the equivalence
 * test (equivalence.redis.test.ts): one ES256 key for every server, the tokens (good and bad ones),
 * spawning a server with its environment, and the equivalence check every server must pass before it
 * is measured.
 */
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { importPKCS8, SignJWT, type JWTPayload } from 'jose';
import { firstOk, parsePeers, sameJson, startPeer, watch } from './peers.js';
import { spawnScript } from './process.js';
import { AUDIENCE, ISSUER, ROUTE } from './servers/full-common.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The servers doing the full-stack work, by name → script (and environment). */
export const FULL_STACK_SERVERS = {
  // As shipped: verified-token cache and revocation cache on.
  gantry: { script: 'gantry-auth.js', env: {} },
  // Token cache on, revocations read from Redis on every request (`revocationCache.enabled: false`).
  gantryLookup: { script: 'gantry-auth.js', env: { BENCH_REVOCATION_CACHE: '0' } },
  // Both off: every request checks the signature and reads Redis, the per-request work of the peers.
  gantryNoCache: { script: 'gantry-auth.js', env: { BENCH_TOKEN_CACHE: '0', BENCH_REVOCATION_CACHE: '0' } },
  // The same Gantry route on the fastify engine (`http.engine: "fastify"`).
  gantryFastify: { script: 'gantry-auth.js', env: { BENCH_ENGINE: 'fastify' } },
  gantryFastifyNoCache: {
    script: 'gantry-auth.js',
    env: { BENCH_ENGINE: 'fastify', BENCH_TOKEN_CACHE: '0', BENCH_REVOCATION_CACHE: '0' },
  },
  nest: { script: 'nest-full.js', env: {} },
  fastify: { script: 'fastify-full.js', env: {} },
} as const satisfies Record<string, { script: string; env: Record<string, string> }>;

export type FullStackName = keyof typeof FULL_STACK_SERVERS;

/**
 * How a server is started: one of this folder's (`script`, in servers/, prints `{"port":…}` first) or
 * one written elsewhere (`command`, a command line given the port in `PORT`).
 */
export type ServerSpec =
  | { readonly script: string; readonly env: Readonly<Record<string, string>> }
  | { readonly command: string; readonly env: Readonly<Record<string, string>> };

/**
 * Servers written elsewhere that join the comparison, from `BENCH_PEERS`: a JSON object of name →
 * command line (`{"myNest":"node /path/to/nest/dist/main.js"}`). Each command is run as one program
 * (exec'd, so its CPU time and RSS are read from its own pid) with the same environment as this
 * folder's servers plus `PORT`, and must serve {@link ROUTE} on 127.0.0.1:`PORT` with the same rules
 * (see docs/benchmarks.md). A malformed value is refused with the reason, before anything starts.
 */
export function peerServers(value: string | undefined = process.env.BENCH_PEERS): Record<string, ServerSpec> {
  const peers = parsePeers(value, 'BENCH_PEERS', Object.keys(FULL_STACK_SERVERS));
  return Object.fromEntries(Object.entries(peers).map(([name, command]) => [name, { command, env: {} }]));
}

/** The signing key every server trusts. */
export interface BenchKey {
  readonly kid: string;
  readonly privatePem: string;
  readonly publicPem: string;
}

export function benchKey(): BenchKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid: `bench-${randomUUID().slice(0, 8)}`,
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

/** The tokens of the equivalence check: `good` is the one the load uses. */
export interface BenchTokens {
  readonly good: string;
  readonly noRole: string;
  readonly expired: string;
  readonly wrongAudience: string;
  readonly wrongIssuer: string;
  readonly wrongTyp: string;
  readonly unknownKid: string;
  /** Of family {@link REVOKED_FAMILY}, which {@link revokeBenchFamily} marks revoked in Redis. */
  readonly revoked: string;
}

export const REVOKED_FAMILY = 'bench-revoked-family';

export async function benchTokens(key: BenchKey): Promise<BenchTokens> {
  const signing = await importPKCS8(key.privatePem, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> =>
    new SignJWT({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'bench-user',
      jti: randomUUID(),
      fid: randomUUID(),
      iat: now,
      exp: now + 7_200,
      ...claims,
    })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', ...header })
      .sign(signing);
  return {
    good: await sign(),
    noRole: await sign({ sub: 'bench-nobody' }),
    expired: await sign({ iat: now - 3_600, exp: now - 1_800 }),
    wrongAudience: await sign({ aud: 'someone-else' }),
    wrongIssuer: await sign({ iss: 'http://elsewhere.local' }),
    wrongTyp: await sign({}, { typ: 'JWT' }),
    unknownKid: await sign({}, { kid: 'not-in-the-ring' }),
    revoked: await sign({ fid: REVOKED_FAMILY }),
  };
}

/** Marks {@link REVOKED_FAMILY} revoked under a server's prefix, as Gantry's revokeFamily writes it. */
export async function revokeBenchFamily(redis: Redis, prefix: string): Promise<void> {
  await redis.set(`${prefix}jwt:fam:${REVOKED_FAMILY}`, '1', 'EX', 3_600);
}

/** Deletes every key of a run's prefix. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** A running server. */
export interface FullServer {
  readonly name: string;
  readonly child: ChildProcess;
  readonly port: number;
  /** Spawn → first 200 of the route with the good token, in milliseconds. */
  readonly coldStartMs: number;
}

/** The environment of a full-stack server. */
export function serverEnv(key: BenchKey, prefix: string): Record<string, string> {
  return {
    BENCH_KID: key.kid,
    BENCH_PRIVATE_PEM: key.privatePem,
    BENCH_PUBLIC_PEM: key.publicPem,
    BENCH_PREFIX: prefix,
    BENCH_REDIS_URL: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  };
}

/**
 * Spawns a server (pinned with taskset to `cpu` when given) and waits for the first 200 of the route
 * with the good token (bounded by `timeoutMs`). `spec` defaults to the bench's own server of that name.
 */
export async function startFullServer(
  name: string,
  options: { key: BenchKey; token: string; prefix: string; cpu?: number; timeoutMs?: number; spec?: ServerSpec },
): Promise<FullServer> {
  const spec = options.spec ?? (FULL_STACK_SERVERS as Record<string, ServerSpec | undefined>)[name];
  if (!spec) throw new Error(`no full-stack server named "${name}"`);
  const env = { ...serverEnv(options.key, options.prefix), ...spec.env };
  const headers = { authorization: `Bearer ${options.token}` };
  const timeoutMs = options.timeoutMs ?? 30_000;
  if ('command' in spec) {
    const peer = await startPeer(name, spec.command, { path: ROUTE, cpu: options.cpu, env, headers, timeoutMs });
    return { name, child: peer.child, port: peer.port, coldStartMs: peer.startMs };
  }
  const label = `${name} (${spec.script})`;
  const t0 = performance.now();
  const { child, firstLine } = await spawnScript(path.join(here, 'servers', spec.script), label, env, options.cpu);
  const server = watch(child, label);
  try {
    const { port } = JSON.parse(firstLine) as { port: number };
    await firstOk(server, `http://127.0.0.1:${port}${ROUTE}`, headers, timeoutMs);
    return { name, child, port, coldStartMs: performance.now() - t0 };
  } catch (err) {
    child.kill('SIGTERM');
    throw err;
  }
}

export async function stopFullServer(server: FullServer): Promise<void> {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** What a server answered for one case of the equivalence check. */
export interface Answer {
  readonly status: number;
  readonly body: string;
}

/** The expected status of every case (and the body of the good token). */
export const EXPECTED: Readonly<Record<keyof BenchTokens | 'missing', number>> = {
  good: 200,
  missing: 401,
  expired: 401,
  wrongAudience: 401,
  wrongIssuer: 401,
  wrongTyp: 401,
  unknownKid: 401,
  revoked: 401,
  noRole: 403,
};
export const GOOD_BODY = { subject: 'bench-user' } as const;

/** Asks a server every case; returns the differences from {@link EXPECTED} (empty: equivalent). */
export async function checkEquivalence(port: number, tokens: BenchTokens): Promise<string[]> {
  const problems: string[] = [];
  for (const [label, status] of Object.entries(EXPECTED)) {
    const token = label === 'missing' ? undefined : tokens[label as keyof BenchTokens];
    const res = await fetch(`http://127.0.0.1:${port}${ROUTE}`, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
    const text = await res.text();
    if (res.status !== status) problems.push(`${label}: ${res.status}, expected ${status}`);
    // A body that is not JSON (a peer's HTML error page) is a difference, not a crash of the check.
    if (label === 'good' && !sameJson(text, GOOD_BODY))
      problems.push(`good: body ${text.slice(0, 200)}, expected ${JSON.stringify(GOOD_BODY)}`);
    for (const header of ['content-security-policy', 'x-content-type-options', 'strict-transport-security'])
      if (label === 'good' && !res.headers.get(header)) problems.push(`good: no ${header} header`);
  }
  return problems;
}
