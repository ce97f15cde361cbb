import { definePlugin, packageVersion } from '@gantry/core';
import { HttpServerToken } from '@gantry/http';
import { websocketConfigSchema } from './config.js';
import { WebsocketErrors } from './errors.js';
import { WebSocketHub, type HubMetrics } from './hub.js';
import { AuthJwtToken, MetricsToken, RateLimitsToken, RbacToken, RedisToken, SessionsToken } from './peer-tokens.js';
import { WebSocketToken } from './tokens.js';
import type { Metrics } from '@gantry/plugin-metrics/tokens';

/** The `websocket` plugin: authenticated WebSocket channels on the HTTP server, fanned out through Redis. */
export const plugin = definePlugin({
  name: 'websocket',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'WebSocket endpoint (ws): bearer/first-message/cookie+Origin auth, per-user and declared channels, Redis fan-out, heartbeat, backpressure, limits, graceful 1001',
  dependsOn: ['http'],
  optionalDependsOn: ['auth-jwt', 'sessions-redis', 'rbac', 'redis', 'metrics', 'rate-limit'],
  requires: [HttpServerToken],
  provides: [WebSocketToken],
  config: websocketConfigSchema,
  validate(config, { plugins }) {
    if (config.fanout === 'redis' && !plugins.includes('redis'))
      return [WebsocketErrors.REDIS_REQUIRED('websocket.fanout is "redis" but the "redis" plugin is not enabled')];
    return [];
  },
  register(ctx) {
    const { config, container } = ctx;
    const server = container.get(HttpServerToken);
    const redis = config.fanout === 'memory' ? undefined : container.tryGet(RedisToken);
    const metrics = container.tryGet(MetricsToken);
    // A policy that does not exist refuses the boot through the plain GET below, which declares the same one.
    const limits = config.rateLimit === false ? undefined : container.tryGet(RateLimitsToken);
    const policy = config.rateLimit === false ? undefined : config.rateLimit;
    const hub: WebSocketHub = new WebSocketHub({
      config,
      logger: ctx.logger,
      events: () => ctx.events,
      tokens: container.tryGet(AuthJwtToken),
      sessions: container.tryGet(SessionsToken),
      rbac: container.tryGet(RbacToken),
      redis,
      metrics: metrics ? hubMetrics(metrics, (): number => hub.stats().connections) : undefined,
      limit: limits && policy !== undefined ? (req) => limits.consume(policy, server.clientIp(req)) : undefined,
    });
    ctx.provide(WebSocketToken, hub);
    server.onUpgrade(config.path, (req, socket, head) => hub.upgrade(req, socket, head), ctx.name);
    // A plain GET on the endpoint (no upgrade) is a route too: documented, and answered 426.
    ctx.http.get(
      config.path,
      {
        root: true,
        summary: 'WebSocket endpoint: upgrade with the subprotocols "gantry.v1" and "gantry.bearer.<access token>"',
        tags: ['websocket'],
        // Authentication happens on the upgrade itself (see the plugin README); a plain GET gets 426,
        // counted under the upgrades' rate-limit policy.
        meta: { public: true, rateLimit: config.rateLimit },
      },
      () => {
        throw WebsocketErrors.UPGRADE_REQUIRED(`${config.path} speaks WebSocket only`, {
          headers: { Upgrade: 'websocket' },
        });
      },
    );
    ctx.lifecycle.hook({ name: 'channels', start: () => hub.start() });
    // Serve phase: stops before the HTTP server drains, so every socket gets its 1001 first.
    ctx.lifecycle.hook({
      name: 'drain',
      phase: 'serve',
      start: () => undefined,
      stop: () => hub.stop(),
      timeoutMs: config.drainTimeoutMs + 5_000,
    });
    ctx.health.check(() => ({ status: 'up', details: { connections: hub.stats().connections } }), {
      critical: false,
    });
  },
});

/** Prometheus metrics of the hub (`websocket_*`). */
function hubMetrics(metrics: Metrics, connections: () => number): HubMetrics {
  const scope = metrics.forPlugin('websocket');
  scope.gauge({
    name: 'connections',
    help: 'Open WebSocket connections',
    collect() {
      this.set(connections());
    },
  });
  const opened = scope.counter({ name: 'connections_opened_total', help: 'WebSocket connections accepted' });
  const messagesIn = scope.counter({ name: 'messages_received_total', help: 'Messages received from clients' });
  const messagesOut = scope.counter({ name: 'messages_sent_total', help: 'Messages sent to clients' });
  const dropped = scope.counter({
    name: 'messages_dropped_total',
    help: 'Messages not sent because the client was over its buffer bound',
  });
  const closes = scope.counter({
    name: 'closes_total',
    help: 'Closed connections by close code',
    labelNames: ['code'],
  });
  return {
    opened: () => opened.inc(),
    closed: (code) => closes.inc({ code: String(code) }),
    messageIn: () => messagesIn.inc(),
    messageOut: () => messagesOut.inc(),
    dropped: () => dropped.inc(),
  };
}
