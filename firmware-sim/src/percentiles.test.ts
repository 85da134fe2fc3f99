import { describe, expect, it } from "vitest";
import { percentile, summarize } from "./percentiles.ts";

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
