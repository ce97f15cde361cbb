/** @gantry/plugin-websocket: authenticated WebSocket channels on the Gantry HTTP server. */
export { plugin } from './plugin.js';
export { WebSocketToken } from './tokens.js';
export { WebsocketErrors } from './errors.js';
export {
  CloseCodes,
  PROTOCOL,
  WebSocketHub,
  type ChannelAccess,
  type ChannelDeclaration,
  type ForwardOptions,
  type HubStats,
} from './hub.js';
export { websocketConfigSchema, type WebsocketConfig } from './config.js';
