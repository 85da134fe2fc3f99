import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { KeyedBuckets, TokenBucket } from "./token-bucket.ts";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
});
afterEach(() => vi.useRealTimers());

describe("TokenBucket", () => {
  it("allows a burst, then refills at the sustained rate", () => {
    const b = new TokenBucket({ ratePerSecond: 2, burst: 3 });
    expect([b.tryTake(), b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([true, true, true, false]);
    expect(b.secondsUntil()).toBe(1);
    vi.advanceTimersByTime(499);
    expect(b.tryTake()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(b.tryTake()).toBe(true);
    expect(b.tryTake()).toBe(false);
  });

  it("never holds more than its burst, however long it idles", () => {
    const b = new TokenBucket({ ratePerSecond: 10, burst: 2 });
    vi.advanceTimersByTime(60_000);
    expect(b.isFull()).toBe(true);
    expect([b.tryTake(), b.tryTake(), b.tryTake()]).toEqual([true, true, false]);
  });

  it("does not go negative on refused takes", () => {
    const b = new TokenBucket({ ratePerSecond: 1, burst: 1 });
    b.tryTake();
    for (let i = 0; i < 100; i++) expect(b.tryTake()).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(b.tryTake()).toBe(true);
  });

  it("tolerates the clock stepping back", () => {
    const b = new TokenBucket({ ratePerSecond: 1, burst: 1 });
    b.tryTake();
    vi.setSystemTime(new Date("2029-12-31T00:00:00Z"));
    expect(b.tryTake()).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(b.tryTake()).toBe(true);
  });
});

describe("KeyedBuckets", () => {
  it("keeps one bucket per key", () => {
    const k = new KeyedBuckets({ ratePerSecond: 1, burst: 1 });
    expect(k.tryTake("a")).toBe(true);
    expect(k.tryTake("a")).toBe(false);
    expect(k.tryTake("b")).toBe(true);
    expect(k.secondsUntil("a")).toBe(1);
    expect(k.secondsUntil("never-seen")).toBe(0);
  });

  it("is bounded: the least recently used key is forgotten first", () => {
    const k = new KeyedBuckets({ ratePerSecond: 0.001, burst: 1 }, 3);
    for (const key of ["a", "b", "c"]) expect(k.tryTake(key)).toBe(true);
    expect(k.tryTake("a")).toBe(false); // a is now the most recently used
    expect(k.tryTake("d")).toBe(true); // evicts b (oldest, none full)
    expect(k.size).toBe(3);
    expect(k.tryTake("a")).toBe(false); // a survived
    expect(k.tryTake("b")).toBe(true); // b was forgotten: fresh bucket
  });

  it("prefers evicting idle (full) buckets", () => {
    const k = new KeyedBuckets({ ratePerSecond: 1, burst: 1 }, 2);
    k.tryTake("old");
    k.tryTake("busy");
    vi.advanceTimersByTime(2000); // both refill
    k.tryTake("busy"); // busy is empty again
    k.tryTake("new"); // evicts the full "old"
    expect(k.tryTake("busy")).toBe(false);
  });
});

describe("TokenBucket reservations", () => {
  it("queues reservations in debt and says how long each waits", () => {
    const b = new TokenBucket({ ratePerSecond: 10, burst: 2 });
    expect([b.reserve(), b.reserve(), b.reserve(), b.reserve()]).toEqual([0, 0, 100, 200]);
    expect(b.tryTake()).toBe(false);
    vi.advanceTimersByTime(200);
    expect(b.msUntil()).toBe(100);
    vi.advanceTimersByTime(100);
    expect(b.msUntil()).toBe(0);
    expect(b.tryTake()).toBe(true);
  });
});
