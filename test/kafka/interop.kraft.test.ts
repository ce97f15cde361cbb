import { kafkaInteropSuite } from './interop-suite.js';

kafkaInteropSuite('kafka-kraft', `127.0.0.1:${process.env.KAFKA_KRAFT_PORT ?? '9094'}`, 'Kafka 4.4.0, KRaft');
