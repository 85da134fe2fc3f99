import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { BucketRateLimiter, ItemExponentialRateLimiter, MaxOfRateLimiter } from "./rate-limiter.ts";
import { WorkQueue } from "./work-queue.ts";

/** A handler whose runs the test finishes by hand. */
function controlled() {
  const runs: Array<{ key: string; resolve: () => void; reject: (e: Error) => void }> = [];
  const handler = (key: string) =>
    new Promise<void>((resolve, reject) => {
      runs.push({ key, resolve, reject });
    });
  return { runs, handler };
}

const flush = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("WorkQueue", () => {
  it("runs at most `concurrency` keys at once, FIFO", async () => {
    const { runs, handler } = controlled();
    const q = new WorkQueue({ concurrency: 2, handler });
    for (const k of ["a", "b", "c", "d"]) q.add(k);
    expect(runs.map((r) => r.key)).toEqual(["a", "b"]);
    expect(q.inFlight).toBe(2);
    expect(q.depth).toBe(2);
    runs[0]?.resolve();
    await flush();
    expect(runs.map((r) => r.key)).toEqual(["a", "b", "c"]);
    for (const r of runs.slice(1)) r.resolve();
    await flush();
    runs[3]?.resolve();
    await q.whenIdle();
    expect(runs.map((r) => r.key)).toEqual(["a", "b", "c", "d"]);
  });

  it("coalesces a key added many times while queued", async () => {
    const { runs, handler } = controlled();
    const q = new WorkQueue({ concurrency: 1, handler });
    q.add("busy");
    q.add("x");
    q.add("x");
    q.add("x");
    expect(q.depth).toBe(1);
    runs[0]?.resolve();
    await flush();
    runs[1]?.resolve();
    await q.whenIdle();
    expect(runs.map((r) => r.key)).toEqual(["busy", "x"]);
  });

  it("never runs one key twice at once: an add during its run re-runs it afterwards", async () => {
    const { runs, handler } = controlled();
    const q = new WorkQueue({ concurrency: 4, handler });
    q.add("k");
    q.add("k"); // queued? no: already running
    expect(runs).toHaveLength(1);
    await flush();
    q.add("k");
    q.add("k");
    expect(runs).toHaveLength(1); // still one run, though 3 workers are free
    runs[0]?.resolve();
    await flush();
    expect(runs).toHaveLength(2); // exactly one re-run for the adds made during the run
    runs[1]?.resolve();
    await q.whenIdle();
    expect(runs).toHaveLength(2);
  });

  it("requeues failures with per-item exponential backoff and resets it on success", async () => {
    const calls: number[] = [];
    let fail = 3;
    const q = new WorkQueue({
      concurrency: 1,
      rateLimiter: new ItemExponentialRateLimiter(100, 10_000),
      handler: async () => {
        calls.push(Date.now());
        if (fail-- > 0) throw new Error("boom");
      },
    });
    const errors: number[] = [];
    (q as unknown as { opts: { onError: unknown } }).opts.onError = (_k: string, _e: unknown, ms: number) =>
      errors.push(ms);
    const t0 = Date.now();
    q.add("k");
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls.map((t) => t - t0)).toEqual([0, 100, 300, 700]);
    expect(errors).toEqual([100, 200, 400]);
    expect(q.failures("k")).toBe(0);
  });

  it("the overall bucket throttles a storm of failing keys", async () => {
    let runs = 0;
    const q = new WorkQueue({
      concurrency: 50,
      rateLimiter: new MaxOfRateLimiter(
        new ItemExponentialRateLimiter(1, 1000),
        new BucketRateLimiter(10, 5),
      ),
      handler: async () => {
        runs++;
        throw new Error("down");
      },
    });
    for (let i = 0; i < 20; i++) q.add(`k${i}`);
    await flush();
    expect(runs).toBe(20);
    // 20 failures: the first 5 take burst tokens (retry after ~1 ms), the other 15 wait 100 ms each in turn.
    await vi.advanceTimersByTimeAsync(10);
    expect(runs).toBe(25);
    await vi.advanceTimersByTimeAsync(490);
    expect(runs).toBeGreaterThanOrEqual(29);
    expect(runs).toBeLessThanOrEqual(31);
    await q.shutDown();
  });

  it("addAfter keeps the earliest of several delays for one key", async () => {
    const seen: string[] = [];
    const q = new WorkQueue({ concurrency: 1, handler: async (k) => void seen.push(k) });
    q.addAfter("k", 500);
    q.addAfter("k", 100);
    q.addAfter("k", 300);
    expect(q.delayedCount).toBe(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(seen).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toEqual(["k"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toEqual(["k"]);
  });

  it("shutDown waits for in-flight runs, drops queued and delayed keys, refuses new ones", async () => {
    const { runs, handler } = controlled();
    const q = new WorkQueue({ concurrency: 1, handler });
    q.add("a");
    q.add("b");
    q.addAfter("c", 50);
    let done = false;
    const p = q.shutDown().then(() => {
      done = true;
    });
    await flush();
    expect(done).toBe(false);
    runs[0]?.resolve();
    await p;
    q.add("d");
    await vi.advanceTimersByTimeAsync(100);
    expect(runs.map((r) => r.key)).toEqual(["a"]);
    expect(q.depth).toBe(0);
  });
});

describe("rate limiters", () => {
  it("item backoff doubles up to the cap, per key", () => {
    const l = new ItemExponentialRateLimiter(5, 40);
    expect([l.when("a"), l.when("a"), l.when("a"), l.when("a"), l.when("a")]).toEqual([5, 10, 20, 40, 40]);
    expect(l.when("b")).toBe(5);
    l.forget("a");
    expect(l.when("a")).toBe(5);
  });

  it("bucket gives the burst at once, then spaces by 1/qps, and refills with time", () => {
    let now = 0;
    const l = new BucketRateLimiter(10, 2, () => now);
    expect([l.when("x"), l.when("x"), l.when("x"), l.when("x")]).toEqual([0, 0, 100, 200]);
    now = 1000;
    expect(l.when("x")).toBe(0);
  });
});
