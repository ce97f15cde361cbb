// Shared test kit: a probe plugin that declares event types and handlers, kernels that stop after each
// test, and a bounded wait for a condition.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { definePlugin, GantryError, type Plugin } from '@gantry/core';
import { DatabaseToken, plugin as databasePlugin, type Database } from '@gantry/plugin-database';
import { createTestKernel, memoryLogger, type LogLine, type TestKernel } from '@gantry/testing';
import { expect } from 'chai';
import { z } from 'zod';
import { defineEvent, EventsToken, plugin as eventsPlugin, type Events } from '../../src/index.js';

/** The test's event type: an order line with a per-key sequence number. */
export const OrderPlaced = defineEvent({
  type: 'orders.placed',
  version: 1,
  data: z.object({ orderId: z.string(), seq: z.number().int(), note: z.string().optional() }).strict(),
});

/** What the probe's `setup` receives in register(). */
export interface ProbeContext {
  readonly events: Events;
  readonly db: Database | undefined;
}

/** A plugin that declares the test's types and lets a test add handlers; with the database, an `applied` table. */
export function probePlugin(setup: (ctx: ProbeContext) => void = () => undefined): Plugin {
  return definePlugin({
    name: 'events-probe',
    version: '1.0.0',
    kernel: '^0.1.0',
    dependsOn: ['kafka-events'],
    optionalDependsOn: ['database'],
    register(ctx) {
      const events = ctx.container.get(EventsToken);
      const db = ctx.container.tryGet(DatabaseToken);
      db?.registerMigrations('events-probe', [
        {
          name: '0001_applied',
          up(m) {
            m.sql(
              'create table applied (event_id varchar(36) not null, order_id varchar(64) not null, seq integer not null)',
            );
            m.sql('create table note (id varchar(36) not null primary key, body text not null)');
          },
        },
      ]);
      events.define(OrderPlaced);
      setup({ events, db });
    },
  });
}

/** Options of {@link Kernels.boot}. */
export interface BootOptions {
  readonly events?: Record<string, unknown>;
  /** Options of the database plugin; `false`: no database (direct publishing). */
  readonly database?: Record<string, unknown> | false;
  readonly setup?: (ctx: ProbeContext) => void;
  readonly extra?: readonly Plugin[];
}

/** Boots kernels for one test and stops them all afterwards. */
export class Kernels {
  private readonly started: TestKernel[] = [];
  private readonly dirs: string[] = [];
  /** Every kernel's log lines (kafkajs logs at warn and above), for a failure to show what happened. */
  private readonly lines: LogLine[] = [];

  /** A fresh SQLite file (several kernels may open it). */
  sqliteFile(): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'gantry-events-'));
    this.dirs.push(dir);
    return path.join(dir, 'app.sqlite');
  }

  async boot(options: BootOptions = {}): Promise<TestKernel> {
    const database = options.database === undefined ? { dbName: ':memory:' } : options.database;
    const plugins: Plugin[] = [
      ...(database ? [databasePlugin] : []),
      eventsPlugin,
      probePlugin(options.setup),
      ...(options.extra ?? []),
    ];
    const tk = await createTestKernel({
      logger: memoryLogger(this.lines),
      plugins,
      config: {
        ...(database ? { database } : {}),
        'kafka-events': {
          retry: { backoffMs: [0, 0], jitter: 0 },
          relay: { intervalMs: 20, leaseMs: 500 },
          ...options.events,
        },
      },
    });
    this.started.push(tk);
    return tk;
  }

  /** The last `n` warn-or-worse lines of every kernel of this test, oldest first, one per line. */
  problems(n = 40): string {
    return this.lines
      .filter((l) => l.level === 'warn' || l.level === 'error' || l.level === 'fatal')
      .slice(-n)
      .map(
        (l) =>
          `${l.level} ${l.msg} ${JSON.stringify(l.fields, (_k, v: unknown) => (v instanceof Error ? String(v) : v))}`,
      )
      .join('\n');
  }

  async stopAll(): Promise<void> {
    while (this.started.length > 0) await this.started.pop()!.stop();
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    this.lines.length = 0;
  }
}

/** A broker name no other test uses. */
export function brokerName(): string {
  return `test-${randomBytes(6).toString('hex')}`;
}

/** Waits until `check` returns a truthy value (polling), failing with `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The error `promise` rejected with (fails when it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<GantryError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(GantryError.is(caught), `expected a coded error, got ${String(caught)}`).to.equal(true);
  return caught as GantryError;
}
