import path from 'node:path';
import { definePlugin, EventBusToken, packageVersion } from '@gantry/core';
import { dlqCommand, type Print } from './commands.js';
import { kafkaEventsConfigSchema, type KafkaEventsConfig } from './config.js';
import type { EventDriver } from './driver.js';
import { createMemoryDriver, memoryBroker } from './drivers/memory.js';
import { EventsService } from './events.js';
import { registerEventsMetrics } from './metrics.js';
import { outboxMigrations } from './outbox.js';
import { DatabaseToken } from './peer-tokens.js';
import { EventsToken } from './tokens.js';

const stdout: Print = (line) => void process.stdout.write(`${line}\n`);

async function createDriver(config: KafkaEventsConfig, logger: import('@gantry/core').Logger): Promise<EventDriver> {
  if (config.driver === 'memory')
    return createMemoryDriver({
      partitions: config.partitions,
      ...(config.memoryBroker ? { broker: memoryBroker(config.memoryBroker) } : {}),
    });
  const { createKafkaDriver } = await import('./drivers/kafka.js');
  return createKafkaDriver({ brokers: config.brokers, clientId: config.clientId, logger });
}

/** The `kafka-events` plugin: typed domain events on Kafka or in process, with a transactional outbox, retry topics and a DLQ. */
export const plugin = definePlugin({
  name: 'kafka-events',
  version: packageVersion(import.meta.url),
  kernel: '^0.1.0',
  description:
    'Typed domain events (CloudEvents over Kafka or in process): transactional outbox and relay, retry topics, DLQ, idempotent handlers',
  optionalDependsOn: ['database', 'metrics'],
  provides: [EventsToken],
  config: kafkaEventsConfigSchema,
  async register(ctx) {
    const { config } = ctx;
    const db = ctx.container.tryGet(DatabaseToken);
    // The tables are registered whenever the database is there: transactional handlers need the processed-event table even without the outbox.
    if (db) db.registerMigrations('kafka-events', outboxMigrations);
    const appName = path.basename(ctx.appDir) || 'app';
    const driver = await createDriver(config, ctx.logger);
    const events = new EventsService({
      config,
      driver,
      logger: ctx.logger,
      source: config.source ?? `/gantry/${appName}`,
      group: config.group ?? `gantry.${appName.replace(/[^A-Za-z0-9._-]/g, '-')}`,
      db,
    });
    ctx.provide(EventsToken, events);
    registerEventsMetrics({ container: ctx.container, events, pluginName: ctx.name });
    ctx.lifecycle.hook({
      name: 'events',
      start: () => {
        // Every plugin has registered (and defined its types) by now: the bridge to the kernel's bus.
        if (config.toBus.length > 0) {
          const bus = ctx.container.get(EventBusToken);
          for (const type of config.toBus)
            events.on(
              type,
              (event) =>
                bus.publish({
                  topic: event.type,
                  key: event.key ?? undefined,
                  payload: event.data,
                  headers: { 'ce-id': event.id, ...(event.requestId ? { 'x-request-id': event.requestId } : {}) },
                }),
              { name: `bus.${type}` },
            );
        }
        return events.start();
      },
      stop: () => events.stop(),
    });
    let reachable = true;
    ctx.health.check(
      async () => {
        try {
          await driver.ping(2_000);
          if (!reachable) ctx.logger.info('kafka-events: broker reachable again');
          reachable = true;
        } catch (err) {
          const details = { driver: driver.name, broker: 'unreachable', outbox: events.hasOutbox() };
          // Once per outage, not at every probe; the reason (hosts included) only in the log.
          if (reachable) ctx.logger.warn({ err }, 'kafka-events: broker unreachable');
          reachable = false;
          // With the outbox, publishing keeps working: the instance stays in rotation, reported degraded.
          return { status: events.hasOutbox() ? 'degraded' : 'down', details };
        }
        const failing = events.relay?.failing();
        return failing
          ? { status: 'degraded', details: { driver: driver.name, broker: 'up', relay: 'failing', since: failing.at } }
          : { status: 'up', details: { driver: driver.name, broker: 'up' } };
      },
      { critical: !db || !config.outbox, timeoutMs: 3_000 },
    );
    ctx.command(
      'events:dlq',
      (args) => dlqCommand(events, args, stdout),
      'List dead-lettered events (`events:dlq list [type]`) or replay them (`events:dlq replay <id>... | --all [--type <type>]`)',
    );
  },
});
