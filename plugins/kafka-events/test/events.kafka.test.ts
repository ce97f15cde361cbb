import { mustHoldSuite } from './support/must-hold-suite.js';

// Kafka 3.9.1 in ZooKeeper mode, started by `npm run test:kafka` (test/services/kafka.sh).
const port = process.env.KAFKA_PORT ?? '9092';
mustHoldSuite({
  title: 'Kafka 3.9.1 (ZooKeeper mode)',
  bootstrap: `127.0.0.1:${port}`,
  script: 'test/services/kafka.sh',
  env: { KAFKA_PORT: port },
});
