import { token } from '@gantry/core';
import type { WebSocketHub } from './hub.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { WebSocketHub } from './hub.js';

/** The WebSocket hub: declare channels, publish to them, forward event-bus topics to them. */
export const WebSocketToken = token<WebSocketHub>('gantry.websocket.Hub');
