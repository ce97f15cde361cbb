import { kafkaDriverSuite } from './support/kafka-driver-suite.js';

// Kafka 3.9.1 in ZooKeeper mode, started by `npm run test:kafka` (test/services/kafka.sh).
kafkaDriverSuite({
  title: 'Kafka 3.9.1 (ZooKeeper mode)',
  bootstrap: `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`,
  script: 'test/services/kafka.sh',
});
