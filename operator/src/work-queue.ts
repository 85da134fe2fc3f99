import { type RateLimiter, defaultControllerRateLimiter } from "./rate-limiter.ts";

export interface WorkQueueOptions {
  /** Keys processed at once (distinct keys only: one key never runs twice at once). */
  concurrency: number;
  handler: (key: string) => Promise<void>;
  rateLimiter?: RateLimiter;
  /** A run failed; the key comes back after `retryInMs`. */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

/**
 * A keyed work queue with its own workers, after client-go's workqueue:
 *  - a key queued twice is queued once (`dirty`);
 *  - a key added while it runs is run again after the current run ends, never concurrently;
 *  - failures come back through the rate limiter; success resets the key's backoff.
 * Keys are namespace/name strings, so the queue holds no stale objects: the handler reads the
 * latest state from the cache when the key's turn comes (level-triggered).
 */
export class WorkQueue {
  private readonly items: string[] = [];
  private head = 0;
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly delayed = new Map<string, { timer: NodeJS.Timeout; readyAt: number }>();
  private readonly rateLimiter: RateLimiter;
  private active = 0;
  private shuttingDown = false;
  private idleWaiters: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly opts: WorkQueueOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1)
      throw new RangeError("concurrency must be >= 1");
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter();
  }

  /** Keys waiting to run (not counting running or delayed ones). */
  get depth(): number {
    return this.items.length - this.head;
  }

  get inFlight(): number {
    return this.active;
  }

  get delayedCount(): number {
    return this.delayed.size;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // re-run when the current run ends
    this.items.push(key);
    this.pump();
  }

  /** Adds `key` after `ms`; of several pending delays for one key the earliest wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = Date.now() + ms;
    const cur = this.delayed.get(key);
    if (cur && cur.readyAt <= readyAt) return;
    if (cur) clearTimeout(cur.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.delayed.set(key, { timer, readyAt });
  }

  /** Requeues a failed key after its rate-limited delay; returns that delay. */
  addRateLimited(key: string): number {
    const ms = this.rateLimiter.when(key);
    this.addAfter(key, ms);
    return ms;
  }

  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  failures(key: string): number {
    return this.rateLimiter.failures(key);
  }

  /** Resolves when nothing is queued, running or delayed. */
  whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking keys: queued and delayed keys are dropped (the next leader lists everything
   * anyway), in-flight runs finish. Resolves when the last one has.
   */
  shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const d of this.delayed.values()) clearTimeout(d.timer);
    this.delayed.clear();
    this.items.length = 0;
    this.head = 0;
    this.dirty.clear();
    this.notifyIdle();
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.active === 0 && this.depth === 0 && this.delayed.size === 0;
  }

  private pump(): void {
    while (!this.shuttingDown && this.active < this.opts.concurrency && this.head < this.items.length) {
      const key = this.items[this.head++] as string;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items.splice(0, this.head);
        this.head = 0;
      }
      this.dirty.delete(key);
      this.processing.add(key);
      this.active++;
      void this.run(key);
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.opts.handler(key);
      this.rateLimiter.forget(key);
    } catch (err) {
      if (!this.shuttingDown) {
        const ms = this.addRateLimited(key);
        try {
          this.opts.onError?.(key, err, ms);
        } catch {
          // a failing error hook must not wedge the queue
        }
      }
    } finally {
      this.processing.delete(key);
      this.active--;
      if (!this.shuttingDown && this.dirty.has(key)) this.items.push(key);
      if (this.shuttingDown && this.active === 0) for (const w of this.drainWaiters.splice(0)) w();
      this.pump();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.idleWaiters.length > 0 && (this.isIdle() || this.shuttingDown)) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
