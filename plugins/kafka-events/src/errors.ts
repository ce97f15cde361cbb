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
});
