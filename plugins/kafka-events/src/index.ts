/** @gantry/plugin-kafka-events: typed domain events over Kafka or in process, with a transactional outbox. */
export type {
  ConsumeOptions,
  EventDriver,
  GroupLag,
  IncomingMessage,
  OutgoingMessage,
  SendOptions,
  Subscription,
} from './driver.js';
export { KafkaEventsErrors } from './errors.js';
export { createKafkaDriver, type KafkaDriverOptions } from './drivers/kafka.js';
