import type { SqlEntityManager } from '@gantry/plugin-database';
import type { Events } from '@gantry/plugin-kafka-events/tokens';
import { z } from 'zod';

// The account events, published through kafka-events' outbox when that plugin is enabled (keyed
// by the account id, so one account's events keep their order). Version 1 of each data schema.
const account = z.object({ userId: z.string() }).strict();
const TYPES = {
  'users.signed-up': z.object({ userId: z.string(), email: z.string(), name: z.string() }).strict(),
  'users.email-verified': account,
  'users.logged-in': z.object({ userId: z.string(), method: z.string() }).strict(),
  'users.password-reset': account,
  'users.disabled': account,
} as const;

/** Names of the account event types. */
export type UserEventType = keyof typeof TYPES;

/** Publishes account events when kafka-events is enabled; does nothing otherwise. */
export class UserEvents {
  constructor(private readonly events: Events | undefined) {
    for (const [type, data] of Object.entries(TYPES)) events?.define({ type, version: 1, data });
  }

  /** Writes the event to the outbox, in `em`'s transaction when given. */
  async publish<T extends UserEventType>(
    type: T,
    data: z.input<(typeof TYPES)[T]>,
    em?: SqlEntityManager,
  ): Promise<void> {
    if (!this.events) return;
    await this.events.publish(type, data, { key: data.userId, ...(em ? { em } : {}) });
  }
}
