import * as hdr from "hdr-histogram-js";

/** One point of a percentile curve: `p` in [0, 100], latency in milliseconds. */
export interface PercentilePoint {
  p: number;
  ms: number;
}

/** What the report needs of a latency distribution. All times in milliseconds. */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** The distribution at CURVE_PERCENTILES, for the chart. */
  curve: PercentilePoint[];
}

/** Percentiles plotted in the chart: dense near the tail, where the designs differ most. */
export const CURVE_PERCENTILES = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100] as const;

// Microsecond resolution, up to one hour: far beyond any bounded bench phase.
const HIGHEST_US = 3_600_000_000;

/**
 * HDR histogram of latencies. Values are recorded in whole microseconds so sub-millisecond
 * floor latencies keep 3 significant digits.
 */
export class LatencyRecorder {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
  });

  get count(): number {
    return this.histogram.totalCount;
  }

  /** Records one latency in milliseconds (clamped into the trackable range). */
  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const us = Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000)));
    this.histogram.recordValue(us);
  }

  summary(): LatencySummary {
    return summarize(this.histogram);
  }
}

function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) {
    return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0, curve: [] };
  }
  // HDR reports the highest value equivalent to the bucket, which can overshoot the true max.
  const at = (p: number) => round3(Math.min(h.getValueAtPercentile(p), h.maxValue) / 1000);
  return {
    count: h.totalCount,
    min: round3(h.minNonZeroValue / 1000),
    mean: round3(h.mean / 1000),
    p50: at(50),
    p90: at(90),
    p99: at(99),
    max: round3(h.maxValue / 1000),
    curve: CURVE_PERCENTILES.map((p) => ({ p, ms: at(p) })),
  };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
