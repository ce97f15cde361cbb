import { token } from './token.js';

/** An event as carried by any bus (in-process here, Kafka with the kafka-events plugin). */
export interface BusEvent<T = unknown> {
  readonly topic: string;
  readonly key?: string;
  readonly payload: T;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Publish/subscribe with at-least-once semantics; handlers must be idempotent. */
export interface EventBus {
  publish<T>(event: BusEvent<T>): Promise<void>;
  /** Subscribes to a topic; returns an unsubscribe function. */
  subscribe<T>(topic: string, handler: (event: BusEvent<T>) => Promise<void> | void): () => void;
}

/** Token of the kernel's event bus. */
export const EventBusToken = token<EventBus>('gantry.core.EventBus');

/**
 * The default bus: in process, asynchronous (handlers run on a later tick, like a broker would),
 * one handler's failure logged and isolated from the others.
 */
export class InProcessEventBus implements EventBus {
  private readonly handlers = new Map<string, Set<(event: BusEvent<never>) => Promise<void> | void>>();

  constructor(private readonly onHandlerError: (err: unknown, event: BusEvent) => void) {}

  async publish<T>(event: BusEvent<T>): Promise<void> {
    const set = this.handlers.get(event.topic);
    if (!set || set.size === 0) return;
    await Promise.resolve();
    await Promise.all(
      [...set].map(async (h) => {
        try {
          await h(event as BusEvent<never>);
        } catch (err) {
          this.onHandlerError(err, event);
        }
      }),
    );
  }

  subscribe<T>(topic: string, handler: (event: BusEvent<T>) => Promise<void> | void): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(handler as (event: BusEvent<never>) => Promise<void> | void);
    return () => set.delete(handler as (event: BusEvent<never>) => Promise<void> | void);
  }
}
