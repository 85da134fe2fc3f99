import { describe, expect, it } from "vitest";
import { CURVE_PERCENTILES, LatencyRecorder, percentile, summarize } from "./percentiles.ts";

describe("percentiles", () => {
  it("uses nearest rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(summarize(xs)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99, max: 100 });
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([1, 2], 50)).toBe(1);
  });

  it("sorts numerically, not as strings, and handles no samples", () => {
    expect(summarize([10, 9, 100, 2])).toMatchObject({ p50: 9, max: 100 });
    expect(summarize([])).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  });
});

describe("LatencyRecorder", () => {
  it("summarizes by nearest rank, like summarize(), past its first allocation", () => {
    const r = new LatencyRecorder();
    const xs = Array.from({ length: 3000 }, (_, i) => (i * 7919) % 3000).map((x) => x + 0.5);
    for (const x of xs) r.record(x);
    r.record(Number.NaN);
    const s = r.summary([0, 50, 100]);
    expect(s.count).toBe(3000);
    expect(s.min).toBe(0.5);
    expect(s.max).toBe(2999.5);
    expect(s.p50).toBe(1499.5);
    expect(s.p99).toBe(2969.5);
    expect(s.mean).toBe(1500);
    expect(s.curve).toEqual([
      { p: 0, ms: 0.5 },
      { p: 50, ms: 1499.5 },
      { p: 100, ms: 2999.5 },
    ]);
    expect(new LatencyRecorder().summary().count).toBe(0);
  });

  it("keeps sub-millisecond resolution", () => {
    const r = new LatencyRecorder();
    r.record(0.25);
    r.record(0.75);
    expect(r.summary()).toMatchObject({ min: 0.25, max: 0.75, p50: 0.25 });
  });

  it("gives a monotonic curve at every plotted percentile, ending at the max", () => {
    const r = new LatencyRecorder();
    for (let i = 0; i < 500; i++) r.record(5 + ((i * 37) % 100));
    const { curve, max } = r.summary();
    expect(curve.map((c) => c.p)).toEqual([...CURVE_PERCENTILES]);
    for (let i = 1; i < curve.length; i++) expect(curve[i]!.ms).toBeGreaterThanOrEqual(curve[i - 1]!.ms);
    expect(curve.at(-1)!.ms).toBe(max);
  });

  it("returns zeros and no curve when nothing was recorded, and ignores non-finite values", () => {
    const r = new LatencyRecorder();
    r.record(Number.NaN);
    r.record(Number.POSITIVE_INFINITY);
    expect(r.summary()).toEqual({ count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0, curve: [] });
  });
});
