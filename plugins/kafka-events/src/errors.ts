import { defineErrors } from '@gantry/core';

/** Error registry of the `kafka-events` plugin (codes `GANTRY_KAFKA_EVENTS_<REASON>`). Retired codes are never reused. */
export const KafkaEventsErrors = defineErrors('kafka-events', {
  // --- broker (drivers) ---
  BROKER_UNAVAILABLE: {
    status: 503,
    title: 'Event broker unavailable',
    fix: 'the Kafka brokers in kafka-events.brokers did not answer; check that they run and are reachable, then retry (events written through the outbox are kept and sent when the broker is back)',
  },
  // --- events (plugin) ---
});
