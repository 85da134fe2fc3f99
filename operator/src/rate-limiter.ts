import { type Clock, TokenBucket } from "@devreg/runtime";

/**
 * Requeue delays for failed items, after client-go's workqueue rate limiters: the delay for an
 * item is the max of its own exponential backoff and an overall token bucket, so one poison
 * item backs off alone while a storm of failures is throttled as a whole.
 */
export interface RateLimiter {
  /** Delay (ms) before `key` may be retried; counts a failure. */
  when(key: string): number;
  /** The item succeeded: reset its backoff. */
  forget(key: string): void;
  failures(key: string): number;
}

export class ItemExponentialRateLimiter implements RateLimiter {
  private readonly counts = new Map<string, number>();
  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  when(key: string): number {
    const n = this.counts.get(key) ?? 0;
    this.counts.set(key, n + 1);
    return Math.min(this.maxMs, this.baseMs * 2 ** Math.min(n, 40));
  }

  forget(key: string): void {
    this.counts.delete(key);
  }

  failures(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

/** Token bucket: `qps` tokens per second, up to `burst`; each `when` reserves one token. */
export class BucketRateLimiter implements RateLimiter {
  private readonly bucket: TokenBucket;
  constructor(qps: number, burst: number, now: Clock = Date.now) {
    this.bucket = new TokenBucket({ ratePerSecond: qps, burst }, now);
  }

  /** Goes into debt when empty: the debt is a queue of reservations, and ours waits its turn. */
  when(_key: string): number {
    return this.bucket.reserve();
  }

  forget(_key: string): void {}

  failures(_key: string): number {
    return 0;
  }
}

export class MaxOfRateLimiter implements RateLimiter {
  private readonly limiters: RateLimiter[];
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }

  when(key: string): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.when(key));
    return max;
  }

  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }

  failures(key: string): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.failures(key));
    return max;
  }
}

/** Per item 100 ms doubling to 5 min, overall 10 retries/s with a burst of 100 (client-go's shape). */
export function defaultControllerRateLimiter(): RateLimiter {
  return new MaxOfRateLimiter(
    new ItemExponentialRateLimiter(100, 5 * 60_000),
    new BucketRateLimiter(10, 100),
  );
}
