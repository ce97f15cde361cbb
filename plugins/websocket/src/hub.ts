import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { GantryError, type BusEvent, type EventBus, type Logger, type Principal } from '@gantry/core';
import { HttpErrors, writeRawProblem } from '@gantry/http';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { WebsocketConfig } from './config.js';
import { WebsocketErrors } from './errors.js';
import type { AuthJwtToken, RbacToken, RedisToken, SessionsToken } from './peer-tokens.js';
import type { TokenType } from '@gantry/core';

/** The subprotocol of Gantry's JSON message protocol (offer it, with `gantry.bearer.<token>` to authenticate). */
export const PROTOCOL = 'gantry.v1';
const BEARER_PROTOCOL = 'gantry.bearer.';
const BEARER_HEADER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;
const USER_CHANNEL = 'user:';
const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** Close codes the hub uses (4401 is "unauthenticated" in the private range, as HTTP's 401). */
export const CloseCodes = {
  GOING_AWAY: 1001,
  POLICY: 1008,
  TOO_BIG: 1009,
  TRY_AGAIN_LATER: 1013,
  UNAUTHENTICATED: 4401,
} as const;

/** Who may subscribe to a channel: anyone, any signed-in user, or holders of permissions (rbac). */
export type ChannelAccess = 'public' | 'authenticated' | { readonly permission: string | readonly string[] };

/** A topic channel a plugin declares. */
export interface ChannelDeclaration {
  readonly name: string;
  readonly access: ChannelAccess;
  readonly description?: string;
}

/** An event-bus topic pushed to a channel. */
export interface ForwardOptions<T = unknown> {
  readonly topic: string;
  /** The channel(s) of one event (`user:<id>` for one user); undefined skips the event. */
  readonly to: (event: BusEvent<T>) => string | readonly string[] | undefined;
  /** What subscribers receive (default: the event's payload). */
  readonly data?: (event: BusEvent<T>) => unknown;
}

/** Counters of the hub since start. */
export interface HubStats {
  readonly connections: number;
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly dropped: number;
  readonly closes: Readonly<Record<string, number>>;
}

/** Hooks the metrics plugin fills (all optional). */
export interface HubMetrics {
  readonly opened?: () => void;
  readonly closed?: (code: number) => void;
  readonly messageIn?: () => void;
  readonly messageOut?: () => void;
  readonly dropped?: () => void;
}

/** Collaborators of the hub, all optional but the logger and bus. */
export interface HubOptions {
  readonly config: WebsocketConfig;
  readonly logger: Logger;
  readonly events: () => EventBus;
  readonly tokens?: TokenType<typeof AuthJwtToken>;
  readonly sessions?: TokenType<typeof SessionsToken>;
  readonly rbac?: TokenType<typeof RbacToken>;
  readonly redis?: TokenType<typeof RedisToken>;
  readonly metrics?: HubMetrics;
  /** Counts each upgrade under the `rateLimit` policy, per client IP (rate-limit enabled and `rateLimit` not false). */
  readonly limit?: (req: IncomingMessage) => Promise<UpgradeHit>;
}

/** An upgrade counted by the rate limit: told whether it was accepted. */
export interface UpgradeHit {
  settle(ok: boolean): void;
}

interface Client {
  readonly id: string;
  readonly ws: WebSocket;
  principal: Principal | undefined;
  readonly channels: Set<string>;
  alive: boolean;
  tokens: number;
  refilledAt: number;
  violations: number;
  authTimer: NodeJS.Timeout | undefined;
  expiryTimer: NodeJS.Timeout | undefined;
  /** The bearer token the connection signed in with, verified again at each heartbeat (revocation). */
  token: string | undefined;
}

type Credential =
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'cookie'; readonly header: string }
  | { readonly kind: 'none' };

/**
 * The WebSocket side of an instance: authenticates upgrades, keeps connections and their
 * subscriptions, delivers messages locally and, with Redis, to every other instance.
 */
export class WebSocketHub {
  private readonly declared = new Map<string, ChannelDeclaration>();
  private readonly forwards: ForwardOptions<never>[] = [];
  private readonly clients = new Set<Client>();
  private readonly subscribers = new Map<string, Set<Client>>();
  private readonly wss: WebSocketServer;
  private readonly instance = randomUUID();
  private readonly origins: ReadonlySet<string>;
  private started = false;
  private draining = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly teardown: (() => unknown)[] = [];
  private readonly counters = { messagesIn: 0, messagesOut: 0, dropped: 0, closes: {} as Record<string, number> };

  constructor(private readonly options: HubOptions) {
    const { config } = options;
    this.origins = new Set(config.allowedOrigins.map((o) => new URL(o).origin));
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.maxPayloadBytes,
      // Never echo the bearer subprotocol back: only the protocol name is selected.
      handleProtocols: (protocols) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  /**
   * Declares a topic channel and who may subscribe to it (register time). A declaration without a
   * valid access refuses the boot, like an undeclared route.
   */
  channel(declaration: ChannelDeclaration): void {
    if (this.started)
      throw WebsocketErrors.CHANNEL_INVALID(`channel ${JSON.stringify(declaration?.name)} was declared after start`);
    const name = declaration?.name;
    if (typeof name !== 'string' || !CHANNEL_NAME.test(name) || name.startsWith(USER_CHANNEL))
      throw WebsocketErrors.CHANNEL_INVALID(
        `channel name ${JSON.stringify(name)} must match ${CHANNEL_NAME} and not start with "user:" (per-user channels are built in)`,
      );
    if (!validAccess(declaration.access))
      throw WebsocketErrors.CHANNEL_INVALID(
        `channel "${name}" declares access ${JSON.stringify(declaration.access)}: expected "public", "authenticated" or { permission: "<resource>:<action>" }`,
      );
    if (this.declared.has(name)) throw WebsocketErrors.CHANNEL_INVALID(`channel "${name}" is declared twice`);
    this.declared.set(name, Object.freeze({ ...declaration }));
  }

  /** Every declared topic channel. */
  channels(): readonly ChannelDeclaration[] {
    return [...this.declared.values()];
  }

  /** Pushes events of a bus topic to channels (register time; subscribed at start). */
  forward<T>(options: ForwardOptions<T>): void {
    this.forwards.push(options as ForwardOptions<never>);
  }

  /**
   * Sends `data` to every subscriber of `channel` on this instance and, with Redis fan-out, on every
   * other one. Local subscribers always get it; a Redis failure is 503 GANTRY_WEBSOCKET_FANOUT_FAILED.
   */
  async publish(channel: string, data: unknown): Promise<void> {
    const frame = JSON.stringify({ type: 'message', channel, data });
    this.deliver(channel, frame);
    const redis = this.options.redis;
    if (!redis) return;
    try {
      await redis.publish(this.options.config.redisChannel, JSON.stringify({ o: this.instance, c: channel, f: frame }));
    } catch (err) {
      throw WebsocketErrors.FANOUT_FAILED(`the message on "${channel}" did not reach the other instances`, {
        cause: err,
      });
    }
  }

  /** Counters since start. */
  stats(): HubStats {
    return {
      connections: this.clients.size,
      messagesIn: this.counters.messagesIn,
      messagesOut: this.counters.messagesOut,
      dropped: this.counters.dropped,
      closes: { ...this.counters.closes },
    };
  }

  /** Bytes queued for each open connection (what the slow-consumer bound limits). */
  bufferedAmounts(): number[] {
    return [...this.clients].map((c) => c.ws.bufferedAmount);
  }

  /** Checks declarations against the enabled plugins, subscribes to Redis and the bus, starts the heartbeat. */
  async start(): Promise<void> {
    const problems: string[] = [];
    for (const c of this.declared.values()) {
      if (c.access !== 'public' && !this.options.tokens && !this.options.sessions)
        problems.push(
          `channel "${c.name}" needs a signed-in user but neither "auth-jwt" nor "sessions-redis" is enabled`,
        );
      if (typeof c.access === 'object' && !this.options.rbac)
        problems.push(`channel "${c.name}" requires a permission but "rbac" is not enabled`);
    }
    if (problems.length)
      throw WebsocketErrors.CHANNEL_UNGUARDED(
        `${problems.length} channel(s) would be open to anyone:\n  - ${problems.join('\n  - ')}`,
        { details: { problems } },
      );
    this.started = true;
    this.draining = false;
    const redis = this.options.redis;
    if (redis) {
      const off = await redis.subscribe(this.options.config.redisChannel, (message) => this.fromRedis(message));
      this.teardown.push(off);
    }
    const bus = this.options.events();
    const forwards = [
      ...this.forwards,
      ...this.options.config.forward.map(
        (f): ForwardOptions<never> => ({ topic: f.topic, to: (event) => expand(f.channel, event) }),
      ),
    ];
    for (const f of forwards) {
      const off = bus.subscribe<never>(f.topic, async (event) => {
        const to = f.to(event);
        if (to === undefined) return;
        const data = f.data ? f.data(event) : event.payload;
        for (const channel of typeof to === 'string' ? [to] : to) await this.publish(channel, data);
      });
      this.teardown.push(off);
    }
    this.heartbeat = setInterval(() => this.beat(), this.options.config.heartbeatMs);
    this.heartbeat.unref();
  }

  /**
   * Shutdown: refuses new upgrades, closes every connection with 1001 and waits for them up to
   * drainTimeoutMs, then cuts the rest.
   */
  async stop(): Promise<void> {
    this.draining = true;
    clearInterval(this.heartbeat);
    while (this.teardown.length) await this.teardown.pop()!();
    const open = [...this.clients];
    if (open.length > 0) {
      const closed = Promise.all(open.map((c) => new Promise<void>((resolve) => c.ws.once('close', () => resolve()))));
      for (const c of open) c.ws.close(CloseCodes.GOING_AWAY, 'server shutting down');
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), this.options.config.drainTimeoutMs);
      });
      const outcome = await Promise.race([closed.then(() => 'closed' as const), deadline]);
      clearTimeout(timer);
      if (outcome === 'deadline') {
        this.options.logger.warn({ open: this.clients.size }, 'websocket drain deadline passed; cutting connections');
        for (const c of this.clients) c.ws.terminate();
        await closed;
      }
    }
    this.started = false;
  }

  /** The upgrade handler given to @gantry/http. */
  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (this.draining || !this.started) {
      writeRawProblem(
        socket,
        HttpErrors.SHUTTING_DOWN('the WebSocket endpoint is not accepting connections', {
          headers: { 'Retry-After': '1' },
        }),
      );
      return;
    }
    // Counted first, like a route's per-IP limit: a flood of upgrades (or of guessed tokens) is refused
    // before any token is verified or session looked up.
    const hit = this.options.limit ? await this.options.limit(req) : undefined;
    let principal: Principal | undefined;
    let credential: Credential;
    try {
      if (this.clients.size >= this.options.config.maxConnections)
        throw WebsocketErrors.TOO_MANY_CONNECTIONS(
          `this instance holds its maximum of ${this.options.config.maxConnections} connections`,
          { headers: { 'Retry-After': '5' } },
        );
      credential = this.credentialOf(req);
      if (credential.kind === 'bearer') principal = await this.verifyBearer(credential.token);
      else if (credential.kind === 'cookie') principal = await this.verifyCookie(req, credential.header);
      else if (!this.options.config.firstMessageAuth && !this.options.config.anonymous)
        throw WebsocketErrors.UNAUTHENTICATED('the upgrade carried no credential', {
          headers: { 'WWW-Authenticate': 'Bearer realm="api"' },
        });
    } catch (err) {
      hit?.settle(false);
      throw err;
    }
    hit?.settle(true);
    const token = credential.kind === 'bearer' ? credential.token : undefined;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, principal, token));
  }

  private credentialOf(req: IncomingMessage): Credential {
    const offered = req.headers['sec-websocket-protocol'];
    if (typeof offered === 'string') {
      for (const p of offered.split(',')) {
        const name = p.trim();
        if (name.startsWith(BEARER_PROTOCOL)) return { kind: 'bearer', token: name.slice(BEARER_PROTOCOL.length) };
      }
    }
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const match = BEARER_HEADER.exec(authorization);
      if (!match) throw WebsocketErrors.INVALID_TOKEN('only "Authorization: Bearer <access token>" is accepted');
      return { kind: 'bearer', token: match[1]! };
    }
    const cookie = req.headers.cookie;
    if (this.options.sessions && typeof cookie === 'string' && cookie.length > 0)
      return { kind: 'cookie', header: cookie };
    return { kind: 'none' };
  }

  private async verifyBearer(token: string): Promise<Principal> {
    const tokens = this.options.tokens;
    if (!tokens) throw WebsocketErrors.INVALID_TOKEN('bearer tokens are not accepted here: "auth-jwt" is not enabled');
    try {
      const claims = await tokens.verifyAccess(token);
      return {
        id: claims.sub,
        kind: 'user',
        via: 'bearer',
        roles: Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [],
        sessionId: claims.fid,
        expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
      };
    } catch (err) {
      // The authenticator's own code (expired, revoked, malformed) says more than a generic one.
      if (err instanceof GantryError) throw err;
      throw WebsocketErrors.INVALID_TOKEN('the access token could not be verified', { cause: err });
    }
  }

  private async verifyCookie(req: IncomingMessage, header: string): Promise<Principal | undefined> {
    // Browsers send the cookie on cross-site WebSocket upgrades too (no CORS, no SameSite for same-site
    // subdomains): only listed Origins may use it, and a missing Origin is refused as well.
    const origin = req.headers.origin;
    if (origin === undefined || !this.origins.has(origin))
      throw WebsocketErrors.ORIGIN_NOT_ALLOWED(
        origin === undefined
          ? 'a WebSocket upgrade carrying the session cookie has no Origin header'
          : `a WebSocket upgrade carrying the session cookie came from ${origin.slice(0, 200)}, which is not in websocket.allowedOrigins`,
        { details: { origin: origin?.slice(0, 200) } },
      );
    const session = await this.options.sessions!.authenticateCookie(header);
    if (!session) {
      if (this.options.config.firstMessageAuth || this.options.config.anonymous) return undefined;
      throw WebsocketErrors.UNAUTHENTICATED('the session cookie names no live session');
    }
    return { id: session.userId, kind: 'user', via: 'session', sessionId: session.sessionId };
  }

  private accept(ws: WebSocket, principal: Principal | undefined, token: string | undefined): void {
    const now = performance.now();
    const client: Client = {
      id: randomUUID(),
      ws,
      principal: undefined,
      channels: new Set(),
      alive: true,
      tokens: this.options.config.burst,
      refilledAt: now,
      violations: 0,
      authTimer: undefined,
      expiryTimer: undefined,
      token: undefined,
    };
    this.clients.add(client);
    this.options.metrics?.opened?.();
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => this.received(client, data, isBinary));
    ws.on('error', () => undefined);
    ws.on('close', (code) => this.closed(client, code));
    if (this.draining) {
      ws.close(CloseCodes.GOING_AWAY, 'server shutting down');
      return;
    }
    if (principal) this.signIn(client, principal, token);
    else if (this.options.config.anonymous) this.send(client, JSON.stringify({ type: 'welcome', user: null }));
    else {
      client.authTimer = setTimeout(() => {
        if (!client.principal) ws.close(CloseCodes.UNAUTHENTICATED, 'authentication timed out');
      }, this.options.config.authTimeoutMs);
      client.authTimer.unref();
    }
  }

  private signIn(client: Client, principal: Principal, token: string | undefined): void {
    clearTimeout(client.authTimer);
    client.principal = principal;
    client.token = token;
    // The user's own channel needs no request: pushes to the user reach every connection of theirs.
    this.join(client, `${USER_CHANNEL}${principal.id}`);
    const expiresAt = principal.expiresAt;
    if (typeof expiresAt === 'number') {
      // An expired token ends the connection as it would end a request: the client reconnects with a new one.
      client.expiryTimer = setTimeout(
        () => client.ws.close(CloseCodes.UNAUTHENTICATED, 'access token expired'),
        Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)),
      );
      client.expiryTimer.unref();
    }
    this.send(client, JSON.stringify({ type: 'welcome', user: { id: principal.id } }));
  }

  private received(client: Client, data: RawData, isBinary: boolean): void {
    this.counters.messagesIn++;
    this.options.metrics?.messageIn?.();
    if (!this.allow(client)) {
      client.violations++;
      if (client.violations >= this.options.config.maxRateViolations) {
        client.ws.close(CloseCodes.POLICY, 'message rate limit exceeded');
        return;
      }
      this.error(client, WebsocketErrors.RATE_LIMITED('message refused: over the per-connection message rate'));
      return;
    }
    client.violations = 0;
    let message: { type?: unknown; id?: unknown; channel?: unknown; token?: unknown };
    try {
      if (isBinary) throw new TypeError('binary');
      message = JSON.parse(data.toString());
      if (typeof message !== 'object' || message === null || Array.isArray(message))
        throw new TypeError('not an object');
    } catch {
      this.error(client, WebsocketErrors.BAD_MESSAGE('each message must be one JSON object (text frame)'));
      return;
    }
    const id = typeof message.id === 'string' || typeof message.id === 'number' ? message.id : undefined;
    void this.handle(client, message, id).catch((err: unknown) => {
      if (err instanceof GantryError) this.error(client, err, id);
      else {
        this.options.logger.error({ err }, 'websocket message handling failed');
        this.error(client, WebsocketErrors.BAD_MESSAGE('the message could not be handled'), id);
      }
    });
  }

  private async handle(
    client: Client,
    message: { type?: unknown; channel?: unknown; token?: unknown },
    id: string | number | undefined,
  ): Promise<void> {
    if (message.type === 'auth') {
      if (client.principal) throw WebsocketErrors.BAD_MESSAGE('this connection is already authenticated');
      if (typeof message.token !== 'string' || message.token.length > 8192)
        throw WebsocketErrors.BAD_MESSAGE('"auth" needs a "token" string');
      try {
        this.signIn(client, await this.verifyBearer(message.token), message.token);
      } catch (err) {
        const code = err instanceof GantryError ? err.code : WebsocketErrors.INVALID_TOKEN.code;
        this.send(client, JSON.stringify({ type: 'error', code, message: 'authentication failed', id }));
        client.ws.close(CloseCodes.UNAUTHENTICATED, 'authentication failed');
      }
      return;
    }
    if (!client.principal && !this.options.config.anonymous)
      throw WebsocketErrors.UNAUTHENTICATED('authenticate first: send {"type":"auth","token":"<access token>"}');
    if (message.type === 'ping') {
      this.send(client, JSON.stringify({ type: 'pong', id }));
      return;
    }
    if (message.type !== 'subscribe' && message.type !== 'unsubscribe')
      throw WebsocketErrors.BAD_MESSAGE(`unknown message type ${JSON.stringify(message.type)?.slice(0, 40)}`);
    const channel = message.channel;
    if (typeof channel !== 'string' || channel.length > 250)
      throw WebsocketErrors.BAD_MESSAGE(`"${message.type}" needs a "channel" string`);
    if (message.type === 'unsubscribe') {
      this.leave(client, channel);
      this.send(client, JSON.stringify({ type: 'unsubscribed', channel, id }));
      return;
    }
    await this.authorize(client.principal, channel);
    if (client.ws.readyState !== WebSocket.OPEN) return;
    if (!client.channels.has(channel) && client.channels.size >= this.options.config.maxSubscriptions)
      throw WebsocketErrors.TOO_MANY_SUBSCRIPTIONS(`at most ${this.options.config.maxSubscriptions} subscriptions`);
    this.join(client, channel);
    this.send(client, JSON.stringify({ type: 'subscribed', channel, id }));
  }

  /** Throws unless `principal` may subscribe to `channel`. */
  private async authorize(principal: Principal | undefined, channel: string): Promise<void> {
    if (channel.startsWith(USER_CHANNEL)) {
      if (principal && channel === `${USER_CHANNEL}${principal.id}`) return;
      throw WebsocketErrors.FORBIDDEN('a user channel is only open to its own user');
    }
    const declared = this.declared.get(channel);
    if (!declared) throw WebsocketErrors.CHANNEL_UNKNOWN(`no plugin declared the channel ${JSON.stringify(channel)}`);
    if (declared.access === 'public') return;
    if (!principal) throw WebsocketErrors.FORBIDDEN(`channel "${channel}" is for signed-in users`);
    if (declared.access === 'authenticated') return;
    const needed =
      typeof declared.access.permission === 'string' ? [declared.access.permission] : declared.access.permission;
    const held = principal.permissions;
    const ok = Array.isArray(held)
      ? needed.every((p) => held.includes(p))
      : await this.options.rbac!.can(principal.id, ...needed);
    if (!ok)
      throw WebsocketErrors.FORBIDDEN(`channel "${channel}" requires ${needed.join(', ')}`, { details: { needed } });
  }

  /** Token bucket per connection: refilled lazily at each message. */
  private allow(client: Client): boolean {
    const { messagesPerSecond, burst } = this.options.config;
    const now = performance.now();
    client.tokens = Math.min(burst, client.tokens + ((now - client.refilledAt) / 1000) * messagesPerSecond);
    client.refilledAt = now;
    if (client.tokens < 1) return false;
    client.tokens -= 1;
    return true;
  }

  private join(client: Client, channel: string): void {
    client.channels.add(channel);
    let set = this.subscribers.get(channel);
    if (!set) this.subscribers.set(channel, (set = new Set()));
    set.add(client);
  }

  private leave(client: Client, channel: string): void {
    client.channels.delete(channel);
    const set = this.subscribers.get(channel);
    if (!set) return;
    set.delete(client);
    if (set.size === 0) this.subscribers.delete(channel);
  }

  private deliver(channel: string, frame: string): void {
    const set = this.subscribers.get(channel);
    if (!set) return;
    for (const client of set) this.send(client, frame);
  }

  /** Sends one frame unless the client is over its buffer bound (then drop, or close 1013). */
  private send(client: Client, frame: string): void {
    const ws = client.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount + frame.length > this.options.config.maxBufferedBytes) {
      this.counters.dropped++;
      this.options.metrics?.dropped?.();
      if (this.options.config.slowConsumer === 'close') ws.close(CloseCodes.TRY_AGAIN_LATER, 'client too slow');
      return;
    }
    ws.send(frame);
    this.counters.messagesOut++;
    this.options.metrics?.messageOut?.();
  }

  private error(client: Client, err: GantryError, id?: string | number): void {
    this.send(client, JSON.stringify({ type: 'error', code: err.code, message: err.message, id }));
  }

  private fromRedis(message: string): void {
    let parsed: { o?: unknown; c?: unknown; f?: unknown };
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    // This instance delivered its own messages already, without waiting for Redis.
    if (parsed.o === this.instance || typeof parsed.c !== 'string' || typeof parsed.f !== 'string') return;
    this.deliver(parsed.c, parsed.f);
  }

  private beat(): void {
    for (const client of this.clients) {
      if (!client.alive) {
        client.ws.terminate();
        continue;
      }
      client.alive = false;
      client.ws.ping();
      if (!this.options.config.revalidate) continue;
      if (client.token !== undefined) this.revalidate(client, client.token);
      else if (client.principal?.via === 'session') this.revalidateSession(client, client.principal);
    }
  }

  /**
   * Checks that a cookie connection's session is still live (logout, revocation by the user or an
   * admin, idle or absolute timeout, on any instance): an ended one closes the connection with 4401.
   * Reads the user's session list, which does not slide the idle expiry: an open socket alone does not
   * keep an abandoned session alive.
   */
  private revalidateSession(client: Client, principal: Principal): void {
    this.options.sessions?.list(principal.id).then(
      (live) => {
        if (!live.some((s) => s.id === principal.sessionId))
          client.ws.close(CloseCodes.UNAUTHENTICATED, 'session ended');
      },
      // A store outage is not a revocation: it must not disconnect everyone.
      () => undefined,
    );
  }

  /** Verifies a connection's token again: a revoked (logged out) or expired one ends the connection. */
  private revalidate(client: Client, token: string): void {
    this.options.tokens?.verifyAccess(token).then(
      () => undefined,
      (err: unknown) => {
        // Only a refusal of the token ends it: a store outage (503) must not disconnect everyone.
        if (err instanceof GantryError && err.status !== 401) return;
        client.ws.close(CloseCodes.UNAUTHENTICATED, 'access token no longer valid');
      },
    );
  }

  private closed(client: Client, code: number): void {
    if (!this.clients.delete(client)) return;
    clearTimeout(client.authTimer);
    clearTimeout(client.expiryTimer);
    for (const channel of [...client.channels]) this.leave(client, channel);
    const key = String(code);
    this.counters.closes[key] = (this.counters.closes[key] ?? 0) + 1;
    this.options.metrics?.closed?.(code);
  }
}

function validAccess(access: unknown): access is ChannelAccess {
  if (access === 'public' || access === 'authenticated') return true;
  if (typeof access !== 'object' || access === null) return false;
  const p = (access as { permission?: unknown }).permission;
  const list = typeof p === 'string' ? [p] : p;
  return (
    Array.isArray(list) &&
    list.length > 0 &&
    list.every((x) => typeof x === 'string' && /^[a-z0-9-]+:[a-z0-9-]+$/i.test(x))
  );
}

/** Replaces `{key}` and `{payload.<field>}` in a channel template; undefined when a value is missing. */
function expand(template: string, event: BusEvent<unknown>): string | undefined {
  let missing = false;
  const out = template.replace(/\{(key|payload\.[A-Za-z0-9_]+)\}/g, (_m, name: string) => {
    const value =
      name === 'key' ? event.key : (event.payload as Record<string, unknown> | null)?.[name.slice('payload.'.length)];
    if (typeof value !== 'string' && typeof value !== 'number') {
      missing = true;
      return '';
    }
    return String(value);
  });
  return missing ? undefined : out;
}
