import { kafkaInteropSuite } from './interop-suite.js';

kafkaInteropSuite('kafka', `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`, 'Kafka 3.9.1, ZooKeeper mode');
