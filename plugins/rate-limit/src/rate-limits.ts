import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { currentContext, GantryError, type HttpMiddleware, type Logger, type RouteInfo } from '@gantry/core';
// Types only: the limiters run on the http transport's request and response, which carry the express
// members express-rate-limit uses (`req.ip`, `res.append`, `res.status`) on either engine.
import type { NextFunction, Request, Response } from 'express';
import {
  ipKeyGenerator,
  rateLimit,
  type ClientRateLimitInfo,
  type Logger as ErlLogger,
  type Options,
} from 'express-rate-limit';
import { accountKey, accountKeyOf } from './account-key.js';
import {
  BUILTIN_POLICIES,
  type CountMode,
  type DelayConfig,
  type PolicyConfig,
  type RateLimitConfig,
} from './config.js';
import { RateLimitErrors } from './errors.js';
import type { RateLimitMetrics } from './metrics.js';
import { delayWithinDeadline, hold, progressiveDelayMs } from './progressive-delay.js';
import { MemoryPolicyStore, RedisPolicyStore, type PolicyStore, type RedisCommandSender } from './policy-store.js';

/** Where counters live: this process, or Redis shared by every instance. */
export type StoreKind = 'memory' | 'redis';

/** Which counter of a policy refused a request: per client IP, per (account, client IP) pair, or per account. */
export type CounterKind = 'ip' | 'account-ip' | 'account';

/** One counter of a policy with every option resolved. */
export interface RateLimitCounter {
  readonly windowMs: number;
  readonly limit: number;
  readonly count: CountMode;
}

/** The per-account counter of an `ip+body.<field>` policy, resolved. */
export interface RateLimitAccountCounter extends RateLimitCounter {
  /** The progressive delay, if any. */
  readonly delay: DelayConfig | undefined;
  /** How long an IP that succeeded for the account passes this counter's limit, if set. */
  readonly knownSourceMs: number | undefined;
}

/** A policy with every option resolved (built-ins merged, defaults applied). */
export interface RateLimitPolicy {
  readonly name: string;
  /** The per-IP counter: window, limit and what it counts. */
  readonly windowMs: number;
  readonly limit: number;
  readonly count: CountMode;
  readonly keyBy: string;
  /** The JSON body field counted per account (`ip+body.<field>`), if any. */
  readonly accountField: string | undefined;
  /** The counter per (account, client IP) pair, if any (`ip+body.<field>` policies that set it). */
  readonly perAccountAndIp: RateLimitCounter | undefined;
  /** The counter per account across every client IP (`ip+body.<field>` policies only). */
  readonly perAccount: RateLimitAccountCounter | undefined;
  readonly failOpen: boolean;
}

/** The rate limits of one kernel (token `RateLimitsToken`). */
export interface RateLimits {
  /** Where counters live in this kernel. */
  readonly store: StoreKind;
  /** Every policy: `default`, the built-ins and the configured ones. */
  policies(): readonly RateLimitPolicy[];
  /**
   * The policy guarding a route, `undefined` when it is exempt (`meta.rateLimit: false`, or a root
   * route that names none). Throws GANTRY_RATE_LIMIT_UNKNOWN_POLICY / _DECLARATION_INVALID.
   */
  policyFor(route: RouteInfo): string | undefined;
  /**
   * Forgets a client's counts under a policy: `ip` its per-IP counter, `account` its per-account
   * counter, both together also the counter of that (account, IP) pair.
   */
  reset(policy: string, key: { readonly ip?: string; readonly account?: string }): Promise<void>;
  /**
   * Counts one call of a client IP against a policy's per-IP counter, for entry points that are not
   * HTTP routes (a WebSocket upgrade): the same counter, key and limit a route of that policy uses.
   * Resolves within the limit, with a handle to report how the call ended (the policy's `count` then
   * un-counts a success or a failure, as it does for a route's answer). Rejects with
   * GANTRY_RATE_LIMIT_EXCEEDED (429, `Retry-After`) past the limit, GANTRY_RATE_LIMIT_UNAVAILABLE (503)
   * when the store cannot count and the policy does not fail open, and GANTRY_RATE_LIMIT_UNKNOWN_POLICY
   * for a policy that does not exist.
   */
  consume(policy: string, ip: string): Promise<RateLimitHit>;
}

/** One counted call (see {@link RateLimits.consume}). */
export interface RateLimitHit {
  /** How the call ended: `true` a success. Un-counts it when the policy counts only the other kind; later calls are ignored. */
  settle(ok: boolean): void;
}

const UNCOUNTED: RateLimitHit = Object.freeze({ settle: () => undefined });

/** What {@link PolicyLimiters} needs. */
export interface PolicyLimitersOptions {
  readonly config: RateLimitConfig;
  readonly store: StoreKind;
  /** The redis plugin's shared connection (redis store only). */
  readonly connection: RedisCommandSender | undefined;
  readonly logger: Logger;
  readonly metrics: RateLimitMetrics;
}

interface Limiter {
  readonly stores: readonly PolicyStore[];
  readonly ipStore: PolicyStore;
  readonly accountStore: PolicyStore | undefined;
  readonly pairStore: PolicyStore | undefined;
  /** What the before-body route hook returns for routes of this policy: the per-IP check. */
  readonly guard: HttpMiddleware;
  /** What the after-body route hook returns (`ip+body.<field>` policies only): the per-account checks and the delay. */
  readonly accountGuard: HttpMiddleware | undefined;
}

/** The keys of the account named by the body of one request. */
interface AccountKeys {
  /** The account's hash. */
  readonly account: string;
  /** `<account hash>:<client IP key>`. */
  readonly pair: string;
}

const ACCOUNT = Symbol('gantry.rate-limit.account');

type AccountRequest = Request & { [ACCOUNT]?: AccountKeys };

/** Where each limiter leaves its count on the request (express-rate-limit's `requestPropertyName`), one name each. */
const INFO_PROPERTY: Readonly<Record<CounterKind, string>> = {
  ip: 'rateLimit',
  'account-ip': 'rateLimitAccountIp',
  account: 'rateLimitAccount',
};

type Next = (err?: unknown) => void;

/**
 * express-rate-limit limiters per policy, all built once at register and shared by every route of that
 * policy: one per IP, and for `ip+body.<field>` policies one per account and optionally one per
 * (account, IP) pair, plus the progressive delay and the known sources of the per-account counter.
 */
export class PolicyLimiters implements RateLimits {
  readonly store: StoreKind;
  private readonly limiters = new Map<string, Limiter>();
  private readonly partitionKeys = new PartitionKeys();
  private resolved: readonly RateLimitPolicy[];
  /** The resolved policies by name: each limiter reads its current limit here, per request. */
  private byName = new Map<string, RateLimitPolicy>();

  constructor(private readonly options: PolicyLimitersOptions) {
    this.store = options.store;
    this.resolved = resolvePolicies(options.config);
    this.byName = new Map(this.resolved.map((p) => [p.name, p]));
    const erlLogger = expressRateLimitLogger(options.logger);
    for (const policy of this.resolved) this.limiters.set(policy.name, this.build(policy, erlLogger));
  }

  policies(): readonly RateLimitPolicy[] {
    return this.resolved;
  }

  /**
   * Takes new limits while running (a config change from a remote source): true when `config` differs
   * from the current one in `limit` values only, which every limiter reads per request; false when
   * anything else changed (windows, stores, policies, keys), which needs the limiters built again by a
   * process restart. Counts already made stay.
   */
  updateLimits(prev: RateLimitConfig, next: RateLimitConfig): boolean {
    if (JSON.stringify(withoutLimits(prev)) !== JSON.stringify(withoutLimits(next))) return false;
    this.resolved = resolvePolicies(next);
    this.byName = new Map(this.resolved.map((p) => [p.name, p]));
    return true;
  }

  /** The current limit of a counter of a policy (read per request, so updateLimits takes effect at once). */
  private limitOf(policy: string, per: CounterKind, fallback: number): number {
    const p = this.byName.get(policy);
    const counter = per === 'ip' ? p : per === 'account' ? p?.perAccount : p?.perAccountAndIp;
    return counter?.limit ?? fallback;
  }

  policyFor(route: RouteInfo): string | undefined {
    const declared = route.meta.rateLimit;
    if (declared === false) return undefined;
    if (declared === undefined) return route.root ? undefined : 'default';
    const where = `route ${route.method} ${route.path} of plugin "${route.plugin}"`;
    if (typeof declared !== 'string') {
      throw RateLimitErrors.DECLARATION_INVALID(
        `${where} declares meta.rateLimit ${JSON.stringify(declared)}; use a policy name or false`,
        { details: { route: route.path, method: route.method, plugin: route.plugin } },
      );
    }
    if (!this.limiters.has(declared)) {
      const known = [...this.limiters.keys()].join(', ');
      throw RateLimitErrors.UNKNOWN_POLICY(
        `${where} declares meta.rateLimit "${declared}", which is not a rate-limit policy (known: ${known})`,
        {
          details: {
            route: route.path,
            method: route.method,
            plugin: route.plugin,
            policy: declared,
            known: [...this.limiters.keys()],
          },
        },
      );
    }
    return declared;
  }

  /** The before-body route hook: the per-IP guard of the route's policy, or undefined when the route is exempt. */
  guardFor(route: RouteInfo): HttpMiddleware | undefined {
    const name = this.policyFor(route);
    return name === undefined ? undefined : this.limiters.get(name)!.guard;
  }

  /**
   * The after-body route hook: the per-account guard of the route's policy (it reads the parsed
   * `req.body`), or undefined when the route is exempt or its policy counts per IP only.
   */
  accountGuardFor(route: RouteInfo): HttpMiddleware | undefined {
    const name = this.policyFor(route);
    return name === undefined ? undefined : this.limiters.get(name)!.accountGuard;
  }

  async reset(policy: string, key: { readonly ip?: string; readonly account?: string }): Promise<void> {
    const limiter = this.limiters.get(policy);
    if (!limiter)
      throw RateLimitErrors.UNKNOWN_POLICY(
        `reset("${policy}"): no such rate-limit policy (known: ${[...this.limiters.keys()].join(', ')})`,
      );
    const ip = key.ip === undefined ? undefined : this.ipKey(key.ip);
    const account = key.account === undefined ? undefined : accountKey(key.account);
    if (ip !== undefined) await limiter.ipStore.resetKey(ip);
    if (account !== undefined && limiter.accountStore) await limiter.accountStore.resetKey(account);
    if (ip !== undefined && account !== undefined && limiter.pairStore)
      await limiter.pairStore.resetKey(pairKey(account, ip));
  }

  async consume(policy: string, ip: string): Promise<RateLimitHit> {
    const limiter = this.limiters.get(policy);
    const resolved = this.byName.get(policy);
    if (!limiter || !resolved)
      throw RateLimitErrors.UNKNOWN_POLICY(
        `consume("${policy}"): no such rate-limit policy (known: ${[...this.limiters.keys()].join(', ')})`,
      );
    const key = this.ipKey(ip);
    const store = limiter.ipStore;
    let hits: number;
    let resetTime: Date | undefined;
    try {
      ({ totalHits: hits, resetTime } = await store.increment(key));
    } catch (err) {
      // The store has counted the outage (metrics, one log line from the redis plugin) and made it a 503.
      if (resolved.failOpen) return UNCOUNTED;
      throw err;
    }
    if (hits > resolved.limit) {
      this.options.metrics.rejected(policy);
      // A refusal is a failure: a policy counting successes only does not count it (as for a route's 429).
      if (resolved.count === 'successes') this.uncount(store, key, policy);
      const windowSeconds = Math.ceil(resolved.windowMs / 1000);
      const retryAfter = Math.max(1, resetSeconds(resetTime, windowSeconds));
      throw RateLimitErrors.EXCEEDED(
        `too many requests from this client under rate-limit policy "${policy}"; retry in ${retryAfter} s`,
        {
          headers: { 'Retry-After': String(retryAfter) },
          details: { policy, per: 'ip', limit: resolved.limit, windowSeconds, retryAfterSeconds: retryAfter },
        },
      );
    }
    if (resolved.count === 'all') return UNCOUNTED;
    const uncount = resolved.count === 'failures';
    let settled = false;
    return {
      settle: (ok: boolean) => {
        if (settled) return;
        settled = true;
        if (ok === uncount) this.uncount(store, key, policy);
      },
    };
  }

  private uncount(store: PolicyStore, key: string, policy: string): void {
    void store.decrement(key).catch((err: unknown) => {
      if (!RateLimitErrors.UNAVAILABLE.is(err))
        this.options.logger.error({ err, policy }, 'rate-limit could not un-count a call');
    });
  }

  /** Starts the stores (memory expiry timers). */
  open(): void {
    for (const l of this.limiters.values()) for (const store of l.stores) store.open();
  }

  /** Stops the stores. */
  close(): void {
    for (const l of this.limiters.values()) for (const store of l.stores) store.close();
  }

  private ipKey(ip: string): string {
    return ipKeyGenerator(ip, this.options.config.ipv6Subnet);
  }

  private build(policy: RateLimitPolicy, logger: ErlLogger): Limiter {
    const config = this.options.config;
    const subnet = config.ipv6Subnet;
    // req.ip honours the http plugin's exact trustProxy hop count; IPv6 is grouped per subnet.
    const clientKey = (req: Request): string => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown', subnet);
    const ipStore = this.makeStore(policy, `${config.prefix}${policy.name}:`);
    const ip = this.makeLimiter(policy, {
      counter: policy,
      store: ipStore,
      per: 'ip',
      logger,
      keyGenerator: clientKey,
    });
    const guard = ip as unknown as HttpMiddleware;
    const perAccount = policy.perAccount;
    if (policy.accountField === undefined || perAccount === undefined) {
      return {
        stores: [ipStore],
        ipStore,
        accountStore: undefined,
        pairStore: undefined,
        guard,
        accountGuard: undefined,
      };
    }

    const keysOf = (req: Request): AccountKeys => (req as AccountRequest)[ACCOUNT]!;
    const pairCounter = policy.perAccountAndIp;
    const pairStore = pairCounter ? this.makeStore(policy, `${config.prefix}${policy.name}:acct-ip:`) : undefined;
    const pair =
      pairCounter && pairStore
        ? this.makeLimiter(policy, {
            counter: pairCounter,
            store: pairStore,
            per: 'account-ip',
            logger,
            keyGenerator: (req) => keysOf(req).pair,
          })
        : undefined;
    // A success clears the pair's failures (NIST 800-63B: a successful authentication resets the count),
    // which express-rate-limit's own "skip successful requests" cannot do: it only un-counts the request.
    const pairResetsOnSuccess = pairCounter?.count === 'failures';

    const knownStore =
      perAccount.knownSourceMs === undefined
        ? undefined
        : this.makeStore(policy, `${config.prefix}${policy.name}:known:`);
    knownStore?.init({ windowMs: perAccount.knownSourceMs } as Options);
    const accountStore = this.makeStore(policy, `${config.prefix}${policy.name}:acct:`);
    const account = this.makeLimiter(policy, {
      counter: perAccount,
      store: accountStore,
      per: 'account',
      logger,
      keyGenerator: (req) => keysOf(req).account,
      // A known source of the account passes its exhausted per-account limit: attackers elsewhere cannot
      // lock the owner out. When the store cannot tell, the request is refused like any other.
      admit: knownStore
        ? async (req) => isCounted(await knownStore.get(keysOf(req).pair).catch(() => undefined))
        : undefined,
    });

    const { logger: log, metrics } = this.options;
    const field = policy.accountField;
    const delay = perAccount.delay;
    const forget = (store: PolicyStore, key: string, what: string): void =>
      void store.resetKey(key).catch((err: unknown) => {
        // Store outages are counted and logged by the store and the redis plugin; anything else is a fault.
        if (!RateLimitErrors.UNAVAILABLE.is(err))
          log.error({ err, policy: policy.name }, `rate-limit could not clear ${what}`);
      });
    const remember = (keys: AccountKeys): void => {
      // Reset, then count: the source stays known for knownSourceMs after its latest success.
      void knownStore!
        .resetKey(keys.pair)
        .then(() => knownStore!.increment(keys.pair))
        .catch((err: unknown) => {
          if (!RateLimitErrors.UNAVAILABLE.is(err))
            log.error({ err, policy: policy.name }, 'rate-limit could not remember a known source');
        });
    };

    // After the account counter let the request through: remember a successful source, then hold the
    // request back when the account has many counted requests in its window.
    const afterAccount = (req: Request, res: Response, next: Next): void => {
      const keys = keysOf(req);
      if (knownStore) {
        res.once('finish', () => {
          if (res.statusCode < 400) remember(keys);
        });
      }
      const used = (req as unknown as Record<string, { used?: number } | undefined>)[INFO_PROPERTY.account]?.used;
      const wanted = delay && used !== undefined ? progressiveDelayMs(used, delay) : 0;
      if (wanted === 0) return next();
      const context = currentContext();
      const ms = delayWithinDeadline(wanted, context);
      if (ms === 0) return next();
      metrics.delayed(policy.name);
      hold(ms, context?.signal).then((waited) => {
        if (waited) return next();
        // Cut short: past the deadline, answer with its error; a client that went away needs no answer.
        const reason: unknown = context?.signal.reason;
        if (GantryError.is(reason)) next(reason);
      }, next);
    };

    // Runs after the HTTP layer parsed the body (its bodyLimit, charsets, encodings and errors apply):
    // a body it refused never gets here, one that names no account counts per IP only.
    const accountGuard = function rateLimitAccountGuard(
      req: IncomingMessage & { body?: unknown },
      res: ServerResponse,
      next: Next,
    ): void {
      const key = accountKeyOf(req.body, field);
      if (key === undefined) return next();
      const request = req as AccountRequest;
      const response = res as Response;
      const keys: AccountKeys = { account: key, pair: pairKey(key, clientKey(request)) };
      request[ACCOUNT] = keys;
      const runAccount = (err?: unknown): void => {
        if (err !== undefined) return next(err);
        void account(request, response, (accountErr?: unknown) =>
          accountErr !== undefined ? next(accountErr) : afterAccount(request, response, next),
        );
      };
      if (!pair) return runAccount();
      if (pairResetsOnSuccess) {
        response.once('finish', () => {
          if (res.statusCode < 400) forget(pairStore!, keys.pair, 'the count of an (account, IP) pair');
        });
      }
      void pair(request, response, runAccount as NextFunction);
    };
    const stores = [ipStore, accountStore, ...(pairStore ? [pairStore] : []), ...(knownStore ? [knownStore] : [])];
    return { stores, ipStore, accountStore, pairStore, guard, accountGuard: accountGuard as unknown as HttpMiddleware };
  }

  private makeStore(policy: RateLimitPolicy, prefix: string): PolicyStore {
    if (this.options.store === 'memory') return new MemoryPolicyStore(prefix);
    const metrics = this.options.metrics;
    const outcome = policy.failOpen ? 'allowed' : 'refused';
    return new RedisPolicyStore({
      connection: this.options.connection!,
      prefix,
      policy: policy.name,
      onUnavailable: () => metrics.storeUnavailable(policy.name, outcome),
    });
  }

  private makeLimiter(
    policy: RateLimitPolicy,
    options: {
      counter: RateLimitCounter;
      store: PolicyStore;
      per: CounterKind;
      logger: ErlLogger;
      keyGenerator: (req: Request) => string;
      /** When over the limit: true lets the request through anyway. */
      admit?: ((req: Request) => Promise<boolean>) | undefined;
    },
  ): LimiterMiddleware {
    const metrics = this.options.metrics;
    const { counter, per, admit } = options;
    const windowSeconds = Math.ceil(counter.windowMs / 1000);
    const limitOf = (): number => this.limitOf(policy.name, per, counter.limit);
    const name = per === 'ip' ? policy.name : `${policy.name}.${per}`;
    const property = INFO_PROPERTY[per];
    const partitionKeys = this.partitionKeys;
    const limiter = rateLimit({
      windowMs: counter.windowMs,
      limit: limitOf,
      // The draft-8 headers are written below, as express-rate-limit writes them, with the partition key
      // of each client remembered instead of hashed again at every request.
      standardHeaders: false,
      legacyHeaders: false,
      requestPropertyName: property,
      store: options.store,
      keyGenerator: options.keyGenerator,
      // The request is counted when it arrives (so parallel attempts cannot slip past the limit); its
      // answer then un-counts it when the counter counts only failures or only successes.
      // The per-pair counter of failures is cleared by its guard on a success instead.
      skipSuccessfulRequests: counter.count === 'failures' && per !== 'account-ip',
      skipFailedRequests: counter.count === 'successes',
      // A store failure either lets the request through (failOpen) or goes to next(err): the store
      // already turned it into GANTRY_RATE_LIMIT_UNAVAILABLE (503 + Retry-After).
      passOnStoreError: policy.failOpen,
      logger: options.logger,
      // The stores are unique per limiter by construction; express-rate-limit's reuse check keeps every
      // store in a module-level Set forever, and its creation-stack check costs a stack trace per limiter.
      // Its trust-proxy checks read express's app settings, which the http transport does not have on
      // every engine (fastify): `req.ip` follows the http plugin's trustProxy, an exact hop count that its
      // config schema never lets be `true`, and an X-Forwarded-For it does not trust is ignored on purpose.
      validate: { unsharedStore: false, creationStack: false, trustProxy: false, xForwardedForHeader: false },
      async handler(req: Request, res: Response, next: NextFunction) {
        // Let through: the RateLimit headers still show the exhausted budget, but no Retry-After.
        if (admit && (await admit(req))) return next();
        metrics.rejected(policy.name);
        // Seconds to the window's reset, as express-rate-limit gives it with its standard headers.
        const retryAfter = String(
          resetSeconds(
            (req as unknown as Record<string, ClientRateLimitInfo | undefined>)[property]?.resetTime,
            windowSeconds,
          ),
        );
        if (!res.headersSent) res.setHeader('Retry-After', retryAfter);
        const whose =
          per === 'ip'
            ? 'from this client'
            : per === 'account'
              ? 'for this account'
              : 'for this account from this client';
        next(
          RateLimitErrors.EXCEEDED(
            `too many requests ${whose} under rate-limit policy "${policy.name}"; retry in ${retryAfter} s`,
            {
              headers: { 'Retry-After': retryAfter },
              details: {
                policy: policy.name,
                per,
                limit: limitOf(),
                windowSeconds,
                retryAfterSeconds: Number(retryAfter),
              },
            },
          ),
        );
      },
    });
    // Headers of every answer this counter counted (a refusal's included), before the next step runs.
    return function rateLimitCounter(req: Request, res: Response, next: NextFunction) {
      return limiter(req, res, (err?: unknown) => {
        const info = (req as unknown as Record<string, RateLimitInfo | undefined>)[property];
        if (info !== undefined && !res.headersSent) {
          res.append('RateLimit', `"${name}"; r=${info.remaining}; t=${resetSeconds(info.resetTime, windowSeconds)}`);
          res.append(
            'RateLimit-Policy',
            `"${name}"; q=${info.limit}; w=${windowSeconds}; pk=:${partitionKeys.of(info.key)}:`,
          );
        }
        next(err);
      });
    };
  }
}

/** What express-rate-limit leaves on the request for one counter. */
interface RateLimitInfo extends ClientRateLimitInfo {
  readonly limit: number;
  readonly remaining: number;
  readonly key: string;
}

/** One counter as a middleware (express-rate-limit's, followed by its RateLimit headers). */
type LimiterMiddleware = (req: Request, res: Response, next: NextFunction) => unknown;

/** Seconds to the reset of a counter's window (the whole window when the store does not say). */
function resetSeconds(reset: Date | undefined, windowSeconds: number): number {
  return reset === undefined ? windowSeconds : Math.max(0, Math.ceil((reset.getTime() - Date.now()) / 1000));
}

/**
 * The `pk` parameter of RateLimit-Policy (draft-ietf-httpapi-ratelimit-headers-08): the first 12 hex
 * digits of the SHA-256 of the counter's key, base64-encoded, as express-rate-limit computes it, so
 * the header names the client's partition without showing its key. Remembered per key (a client's
 * requests share it), at most `max` keys, the oldest forgotten first.
 */
export class PartitionKeys {
  private readonly known = new Map<string, string>();

  constructor(private readonly max = 4096) {}

  of(key: string): string {
    let pk = this.known.get(key);
    if (pk === undefined) {
      pk = Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');
      if (this.known.size >= this.max) this.known.delete(this.known.keys().next().value!);
      this.known.set(key, pk);
    }
    return pk;
  }
}

/** A copy of rate-limit options without their `limit` values (what updateLimits may change). */
function withoutLimits(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutLimits);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => k !== 'limit')
      .map(([k, v]) => [k, withoutLimits(v)]),
  );
}

/** The key of an (account, client IP) pair. */
function pairKey(account: string, ip: string): string {
  return `${account}:${ip}`;
}

/** Whether a store holds a live, non-zero count. */
function isCounted(info: ClientRateLimitInfo | undefined): boolean {
  return (
    info !== undefined && info.totalHits > 0 && (info.resetTime === undefined || info.resetTime.getTime() > Date.now())
  );
}

/** `default`, then the built-ins overridden by the configured policies, with failOpen and the per-account counters resolved. */
export function resolvePolicies(config: RateLimitConfig): readonly RateLimitPolicy[] {
  const entries: [string, PolicyConfig][] = [
    ['default', config.default],
    ...Object.entries({ ...BUILTIN_POLICIES, ...config.policies }),
  ];
  return Object.freeze(
    entries.map(([name, p]) => {
      const accountField = p.keyBy.startsWith('ip+body.') ? p.keyBy.slice('ip+body.'.length) : undefined;
      const counter = (c: { windowMs: number; limit: number; count: CountMode }): RateLimitCounter =>
        Object.freeze({ windowMs: c.windowMs, limit: c.limit, count: c.count });
      // Without perAccount, the account counts like the IP does (what a policy meant before perAccount existed).
      const perAccount =
        accountField === undefined
          ? undefined
          : Object.freeze({
              ...counter(p.perAccount ?? p),
              delay: p.perAccount?.delay ? Object.freeze({ ...p.perAccount.delay }) : undefined,
              knownSourceMs: p.perAccount?.knownSourceMs,
            });
      return Object.freeze({
        name,
        windowMs: p.windowMs,
        limit: p.limit,
        count: p.count,
        keyBy: p.keyBy,
        accountField,
        perAccountAndIp: accountField !== undefined && p.perAccountAndIp ? counter(p.perAccountAndIp) : undefined,
        perAccount,
        // The default policy guards the whole API: a Redis outage must not take it down. Named policies
        // guard credentials: without counting, an attacker would get unlimited guesses.
        failOpen: p.failOpen ?? name === 'default',
      });
    }),
  );
}

/** express-rate-limit's logger on ours. Store outages are logged once by the redis plugin's connection, not per request. */
function expressRateLimitLogger(logger: Logger): ErlLogger {
  return {
    error(err: unknown, message?: string) {
      if (RateLimitErrors.UNAVAILABLE.is(err)) return;
      logger.error(
        GantryError.is(err) || err instanceof Error ? { err } : { detail: err },
        message ?? 'express-rate-limit reported an error',
      );
    },
    warn(err: unknown, message?: string) {
      logger.warn(err instanceof Error ? { err } : { detail: err }, message ?? 'express-rate-limit reported a warning');
    },
  };
}
