import { mustHoldSuite } from './support/must-hold-suite.js';

// Kafka 4 in KRaft mode, started by `npm run test:kraft` (test/services/kafka-kraft.sh).
const port = process.env.KAFKA_KRAFT_PORT ?? '9094';
mustHoldSuite({
  title: 'Kafka 4.4.0 (KRaft)',
  bootstrap: `127.0.0.1:${port}`,
  script: 'test/services/kafka-kraft.sh',
  env: { KAFKA_KRAFT_PORT: port },
});
