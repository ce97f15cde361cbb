import { token } from '@gantry/core';
import type { Events } from './events.js';
// The type the token resolves to, for plugins that declare this token by name (a type-only import costs nothing at run time).
export type { Events } from './events.js';

/** The {@link Events} service: `define` types, `publish` through the outbox, `on` to handle them. */
export const EventsToken = token<Events>('gantry.kafka-events.Events');
