import { fold, samplesOf } from "@devreg/bench/prometheus";

/**
 * Turns two scrapes of the gateway's and operator's /metrics into one chart point: rates of
 * counters and latency percentiles of the histogram's increase between them. Pure.
 */

/** Cumulative bucket counts by upper bound `le` (Infinity for +Inf), summed over label sets. */
function histogramBuckets(text: string, metric: string): Map<number, number> {
  return new Map(
    [...fold(samplesOf(text, `${metric}_bucket`), (l) => l.le)].map(([le, v]) => [
      le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le),
      v,
    ]),
  );
}

/**
 * The q-quantile of the observations that fell between two readings of a histogram, with
 * Prometheus's histogram_quantile interpolation (linear within a bucket; the +Inf bucket
 * answers with the highest finite bound). null when nothing was observed. Only bucket counts
 * cross /metrics, not samples, so runtime's nearest-rank `percentile` cannot apply here; this
 * is what a Prometheus dashboard would show for the same scrapes.
 */
export function quantileOfIncrease(
  before: Map<number, number>,
  after: Map<number, number>,
  q: number,
): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const cum = bounds.map((b) => Math.max(0, (after.get(b) ?? 0) - (before.get(b) ?? 0)));
  const total = cum[cum.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    const c = cum[i] as number;
    if (c >= rank) {
      const upper = bounds[i] as number;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      if (!Number.isFinite(upper)) return lower;
      const below = i === 0 ? 0 : (cum[i - 1] as number);
      const inBucket = c - below;
      return inBucket <= 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
    }
  }
  return bounds.length > 1 ? (bounds[bounds.length - 2] as number) : null;
}

/** Per-second increase of each bucket of a counter folded by `label`, between two readings. */
export function ratesByLabel(
  beforeText: string,
  afterText: string,
  metric: string,
  label: string,
  seconds: number,
): Record<string, number> {
  const key = (l: Record<string, string>) => l[label] ?? "?";
  const before = fold(samplesOf(beforeText, metric), key);
  const after = fold(samplesOf(afterText, metric), key);
  const out: Record<string, number> = {};
  if (seconds <= 0) return out;
  for (const [k, v] of after) out[k] = Math.max(0, v - (before.get(k) ?? 0)) / seconds;
  return out;
}

export const GATEWAY_ENROLLMENTS = "devreg_gateway_enrollments_total";
const GATEWAY_LATENCY = "devreg_gateway_enrollment_duration_seconds";
export const OPERATOR_DECISIONS = "devreg_operator_decisions_total";

/** Latency percentiles (ms) of the gateway's enrollments between two scrapes. */
export function latencyPercentiles(
  beforeText: string,
  afterText: string,
): { p50: number | null; p90: number | null; p99: number | null } {
  const b = histogramBuckets(beforeText, GATEWAY_LATENCY);
  const a = histogramBuckets(afterText, GATEWAY_LATENCY);
  const ms = (q: number) => {
    const v = quantileOfIncrease(b, a, q);
    return v === null ? null : Math.round(v * 1000 * 100) / 100;
  };
  return { p50: ms(0.5), p90: ms(0.9), p99: ms(0.99) };
}
