// Tokens of optional collaborators, declared here by their global name (token() is Symbol.for):
// importing them from the plugins that provide them would make those plugins mandatory installs.
import { token } from '@gantry/core';
import type { Events } from '@gantry/plugin-kafka-events/tokens';
import type { Sessions } from '@gantry/plugin-sessions-redis/tokens';

/** sessions-redis's {@link Sessions} service, when that plugin is enabled. */
export const SessionsToken = token<Sessions>('gantry.sessions.Sessions');

/** kafka-events' service, when that plugin is enabled: account events go through its outbox. */
export const EventsToken = token<Events>('gantry.kafka-events.Events');
