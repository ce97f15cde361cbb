import { randomUUID } from 'node:crypto';
import type { EventDriver } from '@gantry/plugin-kafka-events';
import { createKafkaDriver } from '@gantry/plugin-kafka-events/kafka';
import { expect } from 'chai';
import { consoleConsume, consoleProduce, type KafkaService } from '../support/kafka-console.js';

/** Records written by the kafkajs driver, read by Kafka's own Java tools, and the other way round. */
export function kafkaInteropSuite(service: KafkaService, bootstrap: string, title: string): void {
  describe(`kafka driver and the Java clients (${title})`, function () {
    this.timeout(120_000);
    const runId = `${Date.now().toString(36)}-${randomUUID().slice(0, 6)}`;
    let driver: EventDriver;

    before(async () => {
      driver = createKafkaDriver({ brokers: [bootstrap], clientId: `gantry-interop-${runId}` });
      await driver.connect();
    });

    after(async () => {
      await driver.close();
    });

    it("writes records Kafka's ConsoleConsumer reads with their key, value and headers", async () => {
      const topic = `gantry-interop-${runId}-console`;
      await driver.ensureTopics([{ topic, partitions: 1 }]);
      await driver.send([
        {
          topic,
          key: 'order-42',
          value: Buffer.from('{"total":12.5}'),
          headers: { ce_type: 'order.placed', ce_specversion: '1.0' },
        },
      ]);
      const records = await consoleConsume({ service, bootstrap, topic, maxMessages: 1 });
      expect(records).to.have.length(1);
      expect(records[0]?.key).to.equal('order-42');
      expect(records[0]?.value).to.equal('{"total":12.5}');
      expect(records[0]?.headers).to.deep.equal({ ce_type: 'order.placed', ce_specversion: '1.0' });
    });

    it('puts a key on the partition the Java producer picks (murmur2)', async () => {
      const topic = `gantry-interop-${runId}-partitions`;
      await driver.ensureTopics([{ topic, partitions: 6 }]);
      const keys = ['order-1', 'order-2', 'customer-7', 'tenant-a', 'x', 'ünïcödé-key'];
      await consoleProduce({ service, bootstrap, topic, records: keys.map((key) => ({ key, value: 'java' })) });
      await driver.send(keys.map((key) => ({ topic, key, value: Buffer.from('node'), headers: {} })));
      const records = await driver.read(topic);
      expect(records).to.have.length(keys.length * 2);
      for (const key of keys) {
        const java = records.find((r) => r.key === key && r.value.toString() === 'java');
        const node = records.find((r) => r.key === key && r.value.toString() === 'node');
        expect(node?.partition, `partition of "${key}"`).to.equal(java?.partition);
      }
      expect(new Set(records.map((r) => r.partition)).size, 'keys spread over partitions').to.be.greaterThan(1);
    });
  });
}
