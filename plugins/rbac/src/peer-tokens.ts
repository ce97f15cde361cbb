// Tokens of optional collaborators, declared here by their global name (token() is Symbol.for):
// importing them from the plugins that provide them would make those plugins mandatory installs
// (and load ioredis into applications that keep everything in memory).
import { token } from '@gantry/core';
import type { Audit } from '@gantry/plugin-audit/tokens';
import type { Events } from '@gantry/plugin-kafka-events/tokens';
import type { RedisConnection } from '@gantry/plugin-redis/tokens';

/** audit's {@link Audit} service, when that plugin is enabled. */
export const AuditToken = token<Audit>('gantry.audit.Audit');

/** redis's shared {@link RedisConnection}, when that plugin is enabled. */
export const RedisToken = token<RedisConnection>('gantry.redis.Connection');

/** kafka-events' service, when that plugin is enabled: role changes go through its outbox. */
export const EventsToken = token<Events>('gantry.kafka-events.Events');
