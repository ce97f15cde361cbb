/**
 * A FIFO with a hard bound: pushing past the bound drops the OLDEST item and reports it, so a logging
 * outage costs memory up to the bound and never blocks the caller.
 */
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** Appends; returns how many old items were dropped to make room (0 or 1). */
  push(item: T): number {
    this.items.push(item);
    if (this.size <= this.capacity) return 0;
    this.head++;
    this.compact();
    return 1;
  }

  /** Removes and returns up to `n` items from the front. */
  take(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n);
    this.head += out.length;
    this.compact();
    return out;
  }

  /** Puts a batch back at the front (a retriable failure); returns how many of the oldest were dropped. */
  requeue(batch: readonly T[]): number {
    if (batch.length === 0) return 0;
    this.items = [...batch, ...this.items.slice(this.head)];
    this.head = 0;
    const over = Math.max(0, this.size - this.capacity);
    this.head = over;
    this.compact();
    return over;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
