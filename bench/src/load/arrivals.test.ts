import { describe, expect, it } from "vitest";
import { BenchError } from "../errors.ts";
import { runLoad } from "./arrivals.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("runLoad", () => {
  it("burst: runs every request with at most `concurrency` in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await runLoad({
      count: 40,
      arrival: { mode: "burst" },
      concurrency: 4,
      task: async () => {
        peak = Math.max(peak, ++inFlight);
        await sleep(2);
        inFlight--;
        return 2;
      },
    });
    expect(out.ok).toBe(40);
    expect(out.errors).toBe(0);
    expect(peak).toBe(4);
    expect(out.maxInFlight).toBe(4);
    expect(out.latency.count).toBe(40);
    expect(out.throughputPerSec).toBeGreaterThan(0);
    expect(out.maxStartLagMs).toBe(0);
  });

  it("fixed: starts follow the schedule (20 at 200/s take about 95 ms)", async () => {
    const starts: number[] = [];
    const out = await runLoad({
      count: 20,
      arrival: { mode: "fixed", ratePerSec: 200 },
      concurrency: 50,
      task: async (i) => {
        starts[i] = performance.now();
        return 1;
      },
    });
    expect(out.ok).toBe(20);
    const span = starts[19]! - starts[0]!;
    expect(span).toBeGreaterThanOrEqual(90);
    expect(span).toBeLessThan(400);
  });

  it("fixed: the concurrency cap holds when answers are slower than arrivals", async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await runLoad({
      count: 12,
      arrival: { mode: "fixed", ratePerSec: 1000 },
      concurrency: 3,
      task: async () => {
        peak = Math.max(peak, ++inFlight);
        await sleep(10);
        inFlight--;
        return 10;
      },
    });
    expect(out.ok).toBe(12);
    expect(peak).toBeLessThanOrEqual(3);
    expect(out.maxStartLagMs).toBeGreaterThan(0);
  });

  it("counts failures by error code and keeps them out of the latency samples", async () => {
    const out = await runLoad({
      count: 6,
      arrival: { mode: "burst" },
      concurrency: 2,
      task: async (i) => {
        if (i === 0) throw new BenchError("E_TIMEOUT", "no reply");
        if (i === 3) throw new BenchError("E_TIMEOUT", "no reply", "failed: deadline");
        if (i === 5) throw new Error("plain");
        return 5;
      },
    });
    expect(out.ok).toBe(3);
    expect(out.errors).toBe(3);
    expect(out.errorKinds).toEqual({ E_TIMEOUT: 1, "E_TIMEOUT (failed: deadline)": 1, Error: 1 });
    expect(out.latency.count).toBe(3);
  });

  it("stops starting requests when the time budget is spent, and counts the rest", async () => {
    const out = await runLoad({
      count: 1000,
      arrival: { mode: "burst" },
      concurrency: 2,
      budgetMs: 50,
      task: async () => {
        await sleep(10);
        return 10;
      },
    });
    expect(out.notStarted).toBeGreaterThan(900);
    expect(out.ok + out.notStarted).toBe(1000);
    const fixed = await runLoad({
      count: 100,
      arrival: { mode: "fixed", ratePerSec: 100 },
      concurrency: 10,
      budgetMs: 100,
      task: async () => 1,
    });
    expect(fixed.notStarted).toBeGreaterThan(80);
    expect(fixed.ok + fixed.notStarted).toBe(100);
  });
});
