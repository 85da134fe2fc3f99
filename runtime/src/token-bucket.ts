/**
 * The one token bucket of devreg: the gateway's rate limits (connects, publishes, HTTP posts,
 * log lines), the operator's requeue limiter and its Event sender.
 * Time comes from `Date.now()` by default so vitest fake timers drive it in tests.
 */
export interface BucketSpec {
  /** Tokens added per second (sustained rate). */
  ratePerSecond: number;
  /** Bucket size (largest burst). */
  burst: number;
}

export type Clock = () => number;

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly spec: BucketSpec,
    private readonly now: Clock = Date.now,
  ) {
    this.tokens = spec.burst;
    this.last = now();
  }

  private refill(): void {
    const t = this.now();
    const elapsed = Math.max(0, t - this.last) / 1000;
    this.last = t;
    this.tokens = Math.min(this.spec.burst, this.tokens + elapsed * this.spec.ratePerSecond);
  }

  /** Takes `n` tokens if there are enough; never goes negative. */
  tryTake(n = 1): boolean {
    this.refill();
    if (this.tokens >= n) {
      this.tokens -= n;
      return true;
    }
    return false;
  }

  /** Milliseconds until `n` tokens are available (0 when they are now). */
  msUntil(n = 1): number {
    this.refill();
    if (this.tokens >= n) return 0;
    if (this.spec.ratePerSecond <= 0) return Number.POSITIVE_INFINITY;
    return Math.ceil(((n - this.tokens) / this.spec.ratePerSecond) * 1000);
  }

  /**
   * Takes one token even when there is none, going into debt: the debt is a queue of
   * reservations. Returns the milliseconds the caller waits for its token (0 if it had one).
   */
  reserve(): number {
    this.refill();
    this.tokens -= 1;
    if (this.tokens >= 0) return 0;
    if (this.spec.ratePerSecond <= 0) return Number.POSITIVE_INFINITY;
    return Math.ceil((-this.tokens / this.spec.ratePerSecond) * 1000);
  }

  /** Whole seconds until `n` tokens are available (at least 1 when not available now). */
  secondsUntil(n = 1): number {
    this.refill();
    if (this.tokens >= n) return 0;
    if (this.spec.ratePerSecond <= 0) return Number.POSITIVE_INFINITY;
    return Math.max(1, Math.ceil((n - this.tokens) / this.spec.ratePerSecond));
  }

  /** True when the bucket is full again, i.e. forgetting it changes nothing. */
  isFull(): boolean {
    this.refill();
    return this.tokens >= this.spec.burst;
  }
}

/**
 * One bucket per key (client id, remote address), bounded: least recently used keys are
 * forgotten first, and a forgotten key starts with a full bucket. Evicting only helps an
 * abuser when more than `maxKeys` distinct keys are active, which the global bucket and
 * the connect limit bound anyway.
 */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    readonly spec: BucketSpec,
    private readonly maxKeys = 100_000,
    private readonly now: Clock = Date.now,
  ) {}

  private bucket(key: string): TokenBucket {
    let b = this.buckets.get(key);
    if (b) {
      // Map keeps insertion order: re-inserting marks the key most recently used.
      this.buckets.delete(key);
    } else {
      b = new TokenBucket(this.spec, this.now);
      if (this.buckets.size >= this.maxKeys) this.evict();
    }
    this.buckets.set(key, b);
    return b;
  }

  private evict(): void {
    // Prefer dropping a full (idle) bucket among the oldest few; else the oldest.
    let scanned = 0;
    let oldest: string | undefined;
    for (const [k, b] of this.buckets) {
      oldest ??= k;
      if (b.isFull()) {
        this.buckets.delete(k);
        return;
      }
      if (++scanned >= 16) break;
    }
    if (oldest !== undefined) this.buckets.delete(oldest);
  }

  tryTake(key: string, n = 1): boolean {
    return this.bucket(key).tryTake(n);
  }

  secondsUntil(key: string, n = 1): number {
    return this.buckets.get(key)?.secondsUntil(n) ?? 0;
  }

  get size(): number {
    return this.buckets.size;
  }
}
