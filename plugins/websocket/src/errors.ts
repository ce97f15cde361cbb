import { defineErrors } from '@gantry/core';

/** Error registry of the `websocket` plugin (codes `GANTRY_WEBSOCKET_<REASON>`). */
export const WebsocketErrors = defineErrors('websocket', {
  UPGRADE_REQUIRED: {
    status: 426,
    title: 'WebSocket upgrade required',
    fix: 'connect with a WebSocket client (Upgrade: websocket) offering the subprotocol "gantry.v1"',
  },
  UNAUTHENTICATED: {
    status: 401,
    title: 'WebSocket authentication required',
    fix: 'offer the subprotocols "gantry.v1" and "gantry.bearer.<access token>" (or send {"type":"auth","token":"..."} first, or the session cookie from an allowed Origin)',
  },
  INVALID_TOKEN: {
    status: 401,
    title: 'WebSocket access token refused',
    fix: 'sign in again and connect with a fresh access token',
  },
  ORIGIN_NOT_ALLOWED: {
    status: 403,
    title: 'WebSocket Origin not allowed',
    fix: 'a cookie-authenticated WebSocket must come from an Origin listed in websocket.allowedOrigins (or authenticate with a bearer token)',
  },
  CHANNEL_UNKNOWN: {
    status: 404,
    title: 'Unknown channel',
    fix: 'subscribe to a channel a plugin declared (hub.channel({ name, access })) or to your own "user:<id>"',
  },
  FORBIDDEN: {
    status: 403,
    title: 'Channel not allowed',
    fix: 'subscribe only to your own user channel and to channels your roles grant',
  },
  BAD_MESSAGE: {
    status: 400,
    title: 'Malformed WebSocket message',
    fix: 'send one JSON object per message: {"type":"subscribe"|"unsubscribe"|"ping"|"auth", ...}',
  },
  RATE_LIMITED: {
    status: 429,
    title: 'Too many WebSocket messages',
    fix: 'send fewer messages per second (websocket.messagesPerSecond / burst)',
  },
  TOO_MANY_CONNECTIONS: {
    status: 503,
    title: 'Too many WebSocket connections',
    fix: 'reconnect later or to another instance; operators: raise websocket.maxConnections or add instances',
  },
  TOO_MANY_SUBSCRIPTIONS: {
    status: 429,
    title: 'Too many subscriptions',
    fix: 'unsubscribe from channels you no longer need (websocket.maxSubscriptions per connection)',
  },
  CHANNEL_INVALID: {
    status: 500,
    title: 'Channel declaration is invalid',
    fix: 'declare each channel once with a name and access: "public", "authenticated" or { permission: "<resource>:<action>" }',
  },
  CHANNEL_UNGUARDED: {
    status: 500,
    title: 'Channel access cannot be enforced',
    fix: 'enable the plugin that enforces it (auth-jwt or sessions-redis to authenticate, rbac for permissions)',
  },
  FANOUT_FAILED: {
    status: 503,
    title: 'WebSocket fan-out failed',
    fix: 'local subscribers got the message; subscribers on other instances did not: check Redis (see /readyz)',
  },
  REDIS_REQUIRED: {
    status: 500,
    title: 'Redis fan-out needs the redis plugin',
    fix: 'enable the "redis" plugin, or set websocket.fanout to "auto" or "memory"',
  },
});
