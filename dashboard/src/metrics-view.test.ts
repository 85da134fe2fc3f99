import { describe, expect, it } from "vitest";
import { latencyPercentiles, quantileOfIncrease, ratesByLabel } from "./metrics-view.ts";

const H = "devreg_gateway_enrollment_duration_seconds";
const scrape = (buckets: Record<string, number>, enrolled: Record<string, number>) =>
  [
    ...Object.entries(buckets).map(([le, v]) => `${H}_bucket{le="${le}",outcome="approved",transport="mqtt",gateway="g"} ${v}`),
    ...Object.entries(enrolled).map(([o, v]) => `devreg_gateway_enrollments_total{outcome="${o}",transport="mqtt",gateway="g"} ${v}`),
  ].join("\n");

describe("metrics between two scrapes", () => {
  it("interpolates quantiles within a bucket, as histogram_quantile does", () => {
    const before = new Map([[0.01, 0], [0.1, 0], [Number.POSITIVE_INFINITY, 0]]);
    const after = new Map([[0.01, 50], [0.1, 100], [Number.POSITIVE_INFINITY, 100]]);
    expect(quantileOfIncrease(before, after, 0.5)).toBeCloseTo(0.01);
    expect(quantileOfIncrease(before, after, 0.75)).toBeCloseTo(0.055);
    expect(quantileOfIncrease(after, after, 0.5)).toBeNull();
  });

  it("answers the highest finite bound for observations in +Inf", () => {
    const after = new Map([[1, 0], [Number.POSITIVE_INFINITY, 10]]);
    expect(quantileOfIncrease(new Map(), after, 0.99)).toBe(1);
  });

  it("gives per-second rates by outcome and latency in ms", () => {
    const a = scrape({ "0.01": 0, "0.05": 0, "+Inf": 0 }, { approved: 10, rejected: 0 });
    const b = scrape({ "0.01": 20, "0.05": 40, "+Inf": 40 }, { approved: 50, rejected: 4 });
    expect(ratesByLabel(a, b, "devreg_gateway_enrollments_total", "outcome", 2)).toEqual({ approved: 20, rejected: 2 });
    const l = latencyPercentiles(a, b);
    expect(l.p50).toBe(10);
    expect(l.p99).toBeCloseTo(49.2, 1); // 10 ms + 40 ms × (39.6 − 20) / 20
  });
});
