import { GantryError } from '@gantry/core';
import { expect } from 'chai';
import { createKafkaDriver } from '../src/drivers/kafka.js';

// No broker here: what the driver does before and without one. The broker cases are in kafka-driver.kafka.test.ts.
describe('kafka driver without a broker', () => {
  const dead = { brokers: ['127.0.0.1:1'], connectionTimeoutMs: 300 };

  async function rejection(work: Promise<unknown>): Promise<GantryError> {
    const error = await work.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(GantryError.is(error), String(error)).to.equal(true);
    return error as GantryError;
  }

  it('refuses an empty broker list, a broker without a port and a non-positive timeout', () => {
    for (const options of [
      { brokers: [] },
      { brokers: ['localhost'] },
      { brokers: ['127.0.0.1:9092'], operationTimeoutMs: 0 },
      { brokers: ['127.0.0.1:9092'], lingerMs: -1 },
    ]) {
      const error = (() => {
        try {
          createKafkaDriver(options);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect((error as GantryError)?.code, JSON.stringify(options)).to.equal(
        'GANTRY_KAFKA_EVENTS_DRIVER_OPTIONS_INVALID',
      );
    }
  });

  it('rejects connect, ping and send on an address where nothing listens with BROKER_UNAVAILABLE, in bounded time', async () => {
    const driver = createKafkaDriver({ ...dead, operationTimeoutMs: 1500 });
    try {
      expect((await rejection(driver.connect())).code).to.equal('GANTRY_KAFKA_EVENTS_BROKER_UNAVAILABLE');
      expect((await rejection(driver.ping(1000))).code).to.equal('GANTRY_KAFKA_EVENTS_BROKER_UNAVAILABLE');
      const sent = await rejection(driver.send([{ topic: 't', key: 'k', value: Buffer.from('{}'), headers: {} }]));
      expect(sent.code).to.equal('GANTRY_KAFKA_EVENTS_BROKER_UNAVAILABLE');
      expect(sent.status).to.equal(503);
      expect(sent.message).to.contain('127.0.0.1:1');
    } finally {
      await driver.close();
    }
  });

  it('rejects a send whose signal is already aborted with the reason, and every call after close()', async () => {
    const driver = createKafkaDriver(dead);
    const reason = new Error('caller gave up');
    const aborted = await driver
      .send([{ topic: 't', key: null, value: Buffer.from('{}'), headers: {} }], { signal: AbortSignal.abort(reason) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(aborted).to.equal(reason);
    await driver.close();
    const closed = await rejection(driver.send([{ topic: 't', key: null, value: Buffer.from('{}'), headers: {} }]));
    expect(closed.code).to.equal('GANTRY_KAFKA_EVENTS_DRIVER_CLOSED');
    expect((await rejection(driver.ping(100))).code).to.equal('GANTRY_KAFKA_EVENTS_DRIVER_CLOSED');
  });
});
