/**
 * `@gantry/plugin-kafka-events/kafka`: the Kafka driver (kafkajs) on its own subpath. The package's
 * entry does not re-export it, so an app on the memory driver never loads kafkajs; the plugin imports
 * it only when `driver` is "kafka".
 */
export { createKafkaDriver, type KafkaDriverOptions } from './drivers/kafka.js';
