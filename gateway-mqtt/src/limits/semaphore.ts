/**
 * A non-blocking counting semaphore: `tryAcquire` either takes a slot now or says no.
 * There is deliberately no waiting queue: when every slot is taken the caller answers
 * "busy" at once, so load never piles up in memory. [issue 5: backpressure]
 */
export type Release = () => void;

export class Semaphore {
  private used = 0;

  constructor(
    readonly capacity: number,
    private readonly onChange?: (inUse: number) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError("semaphore capacity must be a positive integer");
  }

  get inUse(): number {
    return this.used;
  }

  /** A release function (safe to call twice), or null when all slots are taken. */
  tryAcquire(): Release | null {
    if (this.used >= this.capacity) return null;
    this.used++;
    this.onChange?.(this.used);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used--;
      this.onChange?.(this.used);
    };
  }
}
