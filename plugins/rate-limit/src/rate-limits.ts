import type { IncomingMessage, ServerResponse } from 'node:http';
import { GantryError, type HttpMiddleware, type Logger, type RouteInfo } from '@gantry/core';
import type { NextFunction, Request, Response } from 'express';
import { ipKeyGenerator, rateLimit, type Logger as ErlLogger, type RateLimitRequestHandler } from 'express-rate-limit';
import { accountKey, accountKeyOf } from './account-key.js';
import { BUILTIN_POLICIES, type PolicyConfig, type RateLimitConfig } from './config.js';
import { RateLimitErrors } from './errors.js';
import type { RateLimitMetrics } from './metrics.js';
import { MemoryPolicyStore, RedisPolicyStore, type PolicyStore, type RedisCommandSender } from './policy-store.js';

/** Where counters live: this process, or Redis shared by every instance. */
export type StoreKind = 'memory' | 'redis';

/** A policy with every option resolved (built-ins merged, defaults applied). */
export interface RateLimitPolicy {
  readonly name: string;
  readonly windowMs: number;
  readonly limit: number;
  readonly keyBy: string;
  /** The JSON body field counted per account (`ip+body.<field>`), if any. */
  readonly accountField: string | undefined;
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
  /** Forgets a client's counts under a policy, e.g. an account's after a successful login. */
  reset(policy: string, key: { readonly ip?: string; readonly account?: string }): Promise<void>;
}

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
  readonly ipStore: PolicyStore;
  readonly accountStore: PolicyStore | undefined;
  /** What the before-body route hook returns for routes of this policy: the per-IP check. */
  readonly guard: HttpMiddleware;
  /** What the after-body route hook returns (`ip+body.<field>` policies only): the per-account check. */
  readonly accountGuard: HttpMiddleware | undefined;
}

const ACCOUNT = Symbol('gantry.rate-limit.account');

type AccountRequest = Request & { [ACCOUNT]?: string };

/**
 * One express-rate-limit limiter per policy (two for `ip+body.<field>` policies: per IP and per
 * account), all built once at register and shared by every route of that policy.
 */
export class PolicyLimiters implements RateLimits {
  readonly store: StoreKind;
  private readonly limiters = new Map<string, Limiter>();
  private readonly resolved: readonly RateLimitPolicy[];

  constructor(private readonly options: PolicyLimitersOptions) {
    this.store = options.store;
    this.resolved = resolvePolicies(options.config);
    const erlLogger = expressRateLimitLogger(options.logger);
    for (const policy of this.resolved) this.limiters.set(policy.name, this.build(policy, erlLogger));
  }

  policies(): readonly RateLimitPolicy[] {
    return this.resolved;
  }

  policyFor(route: RouteInfo): string | undefined {
    const declared = route.meta.rateLimit;
    if (declared === false) return undefined;
    if (declared === undefined) return route.root ? undefined : 'default';
    const where = `route ${route.method} ${route.path} of plugin "${route.plugin}"`;
    if (typeof declared !== 'string') {
      throw RateLimitErrors.DECLARATION_INVALID(`${where} declares meta.rateLimit ${JSON.stringify(declared)}; use a policy name or false`, { details: { route: route.path, method: route.method, plugin: route.plugin } });
    }
    if (!this.limiters.has(declared)) {
      const known = [...this.limiters.keys()].join(', ');
      throw RateLimitErrors.UNKNOWN_POLICY(`${where} declares meta.rateLimit "${declared}", which is not a rate-limit policy (known: ${known})`, {
        details: { route: route.path, method: route.method, plugin: route.plugin, policy: declared, known: [...this.limiters.keys()] },
      });
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
    if (!limiter) throw RateLimitErrors.UNKNOWN_POLICY(`reset("${policy}"): no such rate-limit policy (known: ${[...this.limiters.keys()].join(', ')})`);
    if (key.ip !== undefined) await limiter.ipStore.resetKey(this.ipKey(key.ip));
    const account = key.account === undefined ? undefined : accountKey(key.account);
    if (account !== undefined && limiter.accountStore) await limiter.accountStore.resetKey(account);
  }

  /** Starts the stores (memory expiry timers). */
  open(): void {
    for (const l of this.limiters.values()) {
      l.ipStore.open();
      l.accountStore?.open();
    }
  }

  /** Stops the stores. */
  close(): void {
    for (const l of this.limiters.values()) {
      l.ipStore.close();
      l.accountStore?.close();
    }
  }

  private ipKey(ip: string): string {
    return ipKeyGenerator(ip, this.options.config.ipv6Subnet);
  }

  private build(policy: RateLimitPolicy, logger: ErlLogger): Limiter {
    const config = this.options.config;
    const subnet = config.ipv6Subnet;
    const ipStore = this.makeStore(policy, `${config.prefix}${policy.name}:`);
    const ip = this.makeLimiter(policy, {
      store: ipStore,
      identifier: policy.name,
      per: 'ip',
      logger,
      // req.ip honours the http plugin's exact trustProxy hop count; IPv6 is grouped per subnet.
      keyGenerator: (req: Request) => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown', subnet),
    });
    const guard = ip as unknown as HttpMiddleware;
    if (policy.accountField === undefined) return { ipStore, accountStore: undefined, guard, accountGuard: undefined };

    const accountStore = this.makeStore(policy, `${config.prefix}${policy.name}:acct:`);
    const account = this.makeLimiter(policy, {
      store: accountStore,
      identifier: `${policy.name}.account`,
      per: 'account',
      logger,
      keyGenerator: (req: Request) => (req as AccountRequest)[ACCOUNT]!,
    });
    const field = policy.accountField;
    // Runs after the HTTP layer parsed the body (its bodyLimit, charsets, encodings and errors apply):
    // a body it refused never gets here, one that names no account counts per IP only.
    const accountGuard = function rateLimitAccountGuard(req: IncomingMessage & { body?: unknown }, res: ServerResponse, next: (err?: unknown) => void): void {
      const key = accountKeyOf(req.body, field);
      if (key === undefined) return next();
      (req as AccountRequest)[ACCOUNT] = key;
      void account(req as Request, res as Response, next as NextFunction);
    };
    return { ipStore, accountStore, guard, accountGuard: accountGuard as unknown as HttpMiddleware };
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
    options: { store: PolicyStore; identifier: string; per: 'ip' | 'account'; logger: ErlLogger; keyGenerator: (req: Request) => string },
  ): RateLimitRequestHandler {
    const metrics = this.options.metrics;
    const windowSeconds = Math.ceil(policy.windowMs / 1000);
    return rateLimit({
      windowMs: policy.windowMs,
      limit: policy.limit,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      identifier: options.identifier,
      store: options.store,
      keyGenerator: options.keyGenerator,
      // A store failure either lets the request through (failOpen) or goes to next(err): the store
      // already turned it into GANTRY_RATE_LIMIT_UNAVAILABLE (503 + Retry-After).
      passOnStoreError: policy.failOpen,
      logger: options.logger,
      // The stores are unique per limiter by construction; express-rate-limit's reuse check keeps every
      // store in a module-level Set forever, and its creation-stack check costs a stack trace per limiter.
      validate: { unsharedStore: false, creationStack: false },
      handler(req: Request, res: Response, next: NextFunction) {
        metrics.rejected(policy.name);
        // express-rate-limit has set Retry-After (seconds to the window's reset) with the RateLimit headers.
        const retryAfter = String(res.getHeader('Retry-After') ?? windowSeconds);
        const whose = options.per === 'ip' ? 'from this client' : 'for this account';
        next(
          RateLimitErrors.EXCEEDED(`too many requests ${whose} under rate-limit policy "${policy.name}"; retry in ${retryAfter} s`, {
            headers: { 'Retry-After': retryAfter },
            details: { policy: policy.name, per: options.per, limit: policy.limit, windowSeconds, retryAfterSeconds: Number(retryAfter) },
          }),
        );
      },
    });
  }
}

/** `default`, then the built-ins overridden by the configured policies, with failOpen resolved. */
export function resolvePolicies(config: RateLimitConfig): readonly RateLimitPolicy[] {
  const entries: [string, PolicyConfig][] = [['default', config.default], ...Object.entries({ ...BUILTIN_POLICIES, ...config.policies })];
  return Object.freeze(
    entries.map(([name, p]) =>
      Object.freeze({
        name,
        windowMs: p.windowMs,
        limit: p.limit,
        keyBy: p.keyBy,
        accountField: p.keyBy.startsWith('ip+body.') ? p.keyBy.slice('ip+body.'.length) : undefined,
        // The default policy guards the whole API: a Redis outage must not take it down. Named policies
        // guard credentials: without counting, an attacker would get unlimited guesses.
        failOpen: p.failOpen ?? name === 'default',
      }),
    ),
  );
}

/** express-rate-limit's logger on ours. Store outages are logged once by the redis plugin's connection, not per request. */
function expressRateLimitLogger(logger: Logger): ErlLogger {
  return {
    error(err: unknown, message?: string) {
      if (RateLimitErrors.UNAVAILABLE.is(err)) return;
      logger.error(GantryError.is(err) || err instanceof Error ? { err } : { detail: err }, message ?? 'express-rate-limit reported an error');
    },
    warn(err: unknown, message?: string) {
      logger.warn(err instanceof Error ? { err } : { detail: err }, message ?? 'express-rate-limit reported a warning');
    },
  };
}
