import { defineErrors } from '@gantry/core';

/** Error registry of the `kafka-events` plugin (codes `GANTRY_KAFKA_EVENTS_<REASON>`). Retired codes are never reused. */
export const KafkaEventsErrors = defineErrors('kafka-events', {
  // --- broker (drivers) ---
  BROKER_UNAVAILABLE: {
    status: 503,
    title: 'Event broker unavailable',
    fix: 'the Kafka brokers in kafka-events.brokers did not answer; check that they run and are reachable, then retry (events written through the outbox are kept and sent when the broker is back)',
  },
  BROKER_REJECTED: {
    status: 502,
    title: 'Event broker refused the request',
    fix: 'Kafka answered with an error that retrying does not fix (record too large, topic missing with auto-creation off, not authorized, invalid partition count); the message and cause name it',
  },
  DRIVER_CLOSED: {
    status: 503,
    title: 'Event driver closed',
    fix: 'the kafka-events driver was closed (application shutting down); send or subscribe before close(), or create a new driver',
  },
  DRIVER_OPTIONS_INVALID: {
    status: 500,
    title: 'Invalid Kafka driver options',
    fix: 'give createKafkaDriver at least one broker as host:port (e.g. 127.0.0.1:9092) and positive timeouts',
  },
  // --- events (plugin) ---
  UNKNOWN_TYPE: {
    status: 500,
    title: 'Unknown event type',
    fix: 'declare the type once with events.define({ type, version, data }) (or pass the value defineEvent() returned) before publishing or handling it',
  },
  TYPE_INVALID: {
    status: 500,
    title: 'Invalid event type declaration',
    fix: 'give a type of lowercase dotted words ("users.signed-up"), an integer version >= 1 and a zod schema as data; declare each type once, with the same version and schema',
  },
  INVALID_EVENT: {
    status: 500,
    title: 'Invalid event data',
    fix: "the data does not match the type's zod schema: fix the publisher (on publish) or the schema version (on consume; the record went to the DLQ, replay it with `events:dlq replay` once fixed)",
  },
  HANDLER_INVALID: {
    status: 500,
    title: 'Invalid event handler',
    fix: 'register handlers with events.on(type, handler) before the kernel starts, one per type and name (pass { name } to add a second one); transactional handlers need the database plugin',
  },
  HANDLER_TIMEOUT: {
    status: 504,
    title: 'Event handler timed out',
    fix: 'the handler ran past kafka-events.handlerTimeoutMs; make it faster or raise the option (the event is retried)',
  },
  NOT_STARTED: {
    status: 503,
    title: 'Events not started',
    fix: 'publish and consume once the kernel has started (in routes, start hooks of plugins depending on kafka-events, or commands)',
  },
  COMMAND_USAGE: {
    status: 400,
    title: 'Invalid events command',
    fix: 'run `events:dlq list [type]` or `events:dlq replay <event id>... | --all [type]`',
  },
});
