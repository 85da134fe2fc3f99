/**
 * The one way devreg computes percentiles: nearest rank over every sample (exact, no
 * histogram buckets), so `devreg sim`, the bench and the tests mean the same thing by p99.
 */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (p in [0, 100]; 0 gives the minimum); 0 for an empty one. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** p50/p90/p99/max of the samples, rounded to whole milliseconds. */
export function summarize(samples: readonly number[]): Percentiles {
  const sorted = Float64Array.from(samples).sort();
  const r = (x: number) => Math.round(x);
  return {
    count: sorted.length,
    p50: r(percentile(sorted, 50)),
    p90: r(percentile(sorted, 90)),
    p99: r(percentile(sorted, 99)),
    max: r(sorted.length ? sorted[sorted.length - 1]! : 0),
  };
}

/** One point of a percentile curve: `p` in [0, 100], latency in milliseconds. */
export interface PercentilePoint {
  p: number;
  ms: number;
}

/** A latency distribution in milliseconds, to 3 decimals (microseconds). */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** The distribution at the recorder's curve percentiles, for charts. */
  curve: PercentilePoint[];
}

/** Percentiles plotted in charts: dense near the tail, where designs differ most. */
export const CURVE_PERCENTILES = [0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100] as const;

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Records latencies (8 bytes each) and summarizes them by nearest rank. */
export class LatencyRecorder {
  private samples = new Float64Array(1024);
  private n = 0;
  private sum = 0;

  get count(): number {
    return this.n;
  }

  /** Records one latency in milliseconds; non-finite values are ignored. */
  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    if (this.n === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.n++] = ms;
    this.sum += ms;
  }

  summary(curve: readonly number[] = CURVE_PERCENTILES): LatencySummary {
    if (this.n === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0, curve: [] };
    const sorted = this.samples.slice(0, this.n).sort();
    const at = (p: number) => round3(percentile(sorted, p));
    return {
      count: this.n,
      min: round3(sorted[0]!),
      mean: round3(this.sum / this.n),
      p50: at(50),
      p90: at(90),
      p99: at(99),
      max: round3(sorted[this.n - 1]!),
      curve: curve.map((p) => ({ p, ms: at(p) })),
    };
  }
}
