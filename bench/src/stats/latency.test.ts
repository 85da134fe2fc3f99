import { describe, expect, it } from "vitest";
import { CURVE_PERCENTILES, LatencyRecorder } from "./latency.ts";

describe("LatencyRecorder", () => {
  it("summarises a uniform distribution within HDR precision (3 digits)", () => {
    const r = new LatencyRecorder();
    for (let i = 1; i <= 1000; i++) r.record(i);
    const s = r.summary();
    expect(s.count).toBe(1000);
    expect(s.min).toBe(1);
    expect(s.max).toBeCloseTo(1000, 0);
    expect(s.p50).toBeGreaterThanOrEqual(499.5);
    expect(s.p50).toBeLessThanOrEqual(501);
    expect(s.p90).toBeCloseTo(900, -1);
    expect(s.p99).toBeCloseTo(990, -1);
    expect(s.mean).toBeCloseTo(500.5, 0);
  });

  it("keeps sub-millisecond resolution", () => {
    const r = new LatencyRecorder();
    r.record(0.25);
    r.record(0.75);
    const s = r.summary();
    expect(s.min).toBeCloseTo(0.25, 3);
    expect(s.max).toBeCloseTo(0.75, 3);
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
