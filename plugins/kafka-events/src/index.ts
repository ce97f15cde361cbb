/** @gantry/plugin-kafka-events: typed domain events over Kafka or in process, with a transactional outbox. */
export { plugin } from './plugin.js';
export { EventsToken } from './tokens.js';
export { KafkaEventsErrors } from './errors.js';
export { kafkaEventsConfigSchema, type KafkaEventsConfig } from './config.js';
export {
  defineEvent,
  type DeadLetter,
  type EventDefinition,
  type EventHandler,
  type Events,
  type HandlerContext,
  type HandlerOptions,
  type PublishOptions,
} from './events.js';
export { HEADERS, type AttemptRecord, type EventEnvelope } from './envelope.js';
export {
  createMemoryDriver,
  memoryBroker,
  MemoryBroker,
  partitionFor,
  type MemoryDriverOptions,
} from './drivers/memory.js';
export { dlqCommand, type Print } from './commands.js';
export { OutboxRelay, OutboxStore, outboxMigrations, type OutboxRow, type OutboxStats } from './outbox.js';
export type {
  ConsumeOptions,
  EventDriver,
  GroupLag,
  IncomingMessage,
  OutgoingMessage,
  SendOptions,
  Subscription,
} from './driver.js';
// The Kafka driver (kafkajs) is not re-exported here: the plugin imports it only with driver "kafka", so
// an app on the memory driver never loads kafkajs. Import it from "@gantry/plugin-kafka-events/kafka".
export type { KafkaDriverOptions } from './drivers/kafka.js';
