// What every "full stack" benchmark server shares, so they do exactly the same work: the token rules
// (ES256, typ at+jwt, iss, aud, exp, key imported once), the helmet options, the rate limit, the
// revocation lookup in Redis, the role → permission table, the duration histogram and the log line.
// Configured by the bench runner through the environment (see fullStackEnv in ../full-stack.ts).
import { Redis } from 'ioredis';
import { type CryptoKey, importSPKI, type JWTVerifyOptions } from 'jose';
import { pino, type Logger } from 'pino';
import { Histogram, Registry } from 'prom-client';

export const ISSUER = 'http://bench.local';
export const AUDIENCE = 'bench';
export const ROUTE = '/api/v1/secure';
export const PERMISSION = 'notes:read';
/** Requests per IP per window: high enough that the bench never reaches it, counted all the same. */
export const RATE_LIMIT = { windowMs: 60_000, limit: 1_000_000 } as const;

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (the bench runner sets it)`);
  return value;
}

/** The environment a full-stack server runs with. */
export const settings = {
  kid: () => env('BENCH_KID'),
  publicPem: () => env('BENCH_PUBLIC_PEM'),
  privatePem: () => env('BENCH_PRIVATE_PEM'),
  redisUrl: () => process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  /** The port to listen on (127.0.0.1): `PORT` when a harness gives one, else any free port. */
  port: () => Number(process.env.PORT ?? 0),
  /** Unique per run and server: rate-limit counters and revocations of one server are its own. */
  prefix: () => env('BENCH_PREFIX'),
  tokenCache: () => process.env.BENCH_TOKEN_CACHE !== '0',
  /** Gantry's HTTP engine (`http.engine`): express (the default) or fastify. */
  engine: () => (process.env.BENCH_ENGINE === 'fastify' ? 'fastify' : 'express'),
};

/** jose options, built once: the same checks Gantry's auth-jwt makes on an access token. */
export const VERIFY_OPTIONS: JWTVerifyOptions = {
  algorithms: ['ES256'],
  issuer: ISSUER,
  audience: AUDIENCE,
  typ: 'at+jwt',
  clockTolerance: 5,
  requiredClaims: ['exp', 'iat', 'sub', 'jti'],
};

/** The verification key, imported once; tokens naming another kid are refused. */
export async function verificationKey(): Promise<{ kid: string; key: CryptoKey }> {
  return { kid: settings.kid(), key: (await importSPKI(settings.publicPem(), 'ES256')) as CryptoKey };
}

/** Helmet options of Gantry's HTTP layer (packages/http/src/security.ts), for the peers. */
export const HELMET_OPTIONS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
  crossOriginResourcePolicy: { policy: 'same-origin' as const },
  referrerPolicy: { policy: 'no-referrer' as const },
  xFrameOptions: { action: 'deny' as const },
  xXssProtection: false,
  xDownloadOptions: false,
  xDnsPrefetchControl: false,
  originAgentCluster: false,
  xPermittedCrossDomainPolicies: false,
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
};

/** Subjects' roles and roles' permissions (Gantry's rbac keeps the same in its database, cached in memory). */
const ROLES_OF = new Map<string, readonly string[]>([['bench-user', ['reader']]]);
const GRANTS = new Map<string, ReadonlySet<string>>([['reader', new Set([PERMISSION])]]);

export function allowed(sub: string, permission: string): boolean {
  const roles = ROLES_OF.get(sub);
  if (roles === undefined) return false;
  for (const role of roles) if (GRANTS.get(role)?.has(permission)) return true;
  return false;
}

/** The Redis connection of a peer (one, shared by the rate limit and the revocation lookup). */
export function redis(): Redis {
  return new Redis(settings.redisUrl(), { lazyConnect: false, maxRetriesPerRequest: 1, enableAutoPipelining: false });
}

/** The revocation lookup of Gantry's redis token store: one MGET of the family and subject keys. */
export async function revoked(client: Redis, prefix: string, sub: string, fid: unknown, iat: number): Promise<boolean> {
  const [family, subject] = await client.mget(`${prefix}jwt:fam:${String(fid)}`, `${prefix}jwt:sub:${sub}`);
  return family === '1' || (subject != null && iat <= Number(subject));
}

/** The request duration histogram (seconds, by method, route and status), as Gantry's metrics plugin records it. */
export function durationHistogram(): Histogram<'method' | 'route' | 'status_code'> {
  const registry = new Registry();
  return new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration in seconds',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
}

/** pino writing asynchronously to /dev/null: the cost of building and queueing the line, not of storing it. */
export function discardLogger(): Logger {
  return pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false, minLength: 4096 }));
}

/** The one response body of the route, for every server. */
export function body(sub: string): { subject: string } {
  return { subject: sub };
}
