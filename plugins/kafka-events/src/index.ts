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
export { createKafkaDriver, type KafkaDriverOptions } from './drivers/kafka.js';
