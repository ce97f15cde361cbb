import { kafkaDriverSuite } from './support/kafka-driver-suite.js';

// Kafka 4.4.0 in KRaft mode, started by `npm run test:kraft` (test/services/kafka-kraft.sh).
kafkaDriverSuite({
  title: 'Kafka 4.4.0 (KRaft)',
  bootstrap: `127.0.0.1:${process.env.KAFKA_KRAFT_PORT ?? '9094'}`,
  script: 'test/services/kafka-kraft.sh',
});
