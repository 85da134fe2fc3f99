import type { BenchSettings } from "./result.ts";

export interface BenchOptions {
  /** Any cluster (the bench command fills in $KUBECONFIG); else a private control plane started (and stopped) for the run. */
  kubeconfig?: string;
  /** Smoke-sized run: small counts, sweep capped at 1,000. */
  quick?: boolean;
  /** Fixed arrival rates per second; the first is the light rate the targets use. */
  rates?: number[];
  /** Length of each fixed-rate phase: count = rate × seconds. */
  fixedSeconds?: number;
  burstCount?: number;
  /** In-flight cap, the same for floor, devreg and polling. */
  concurrency?: number;
  pollingIntervalMs?: number;
  /** Devices of the polling phase (at the light rate); default rate × fixedSeconds. */
  pollingCount?: number;
  sweep?: number[];
  replyTimeoutMs?: number;
  /** No load phase starts new requests after this long (default 5 min). */
  phaseBudgetMs?: number;
  /** The sweep starts no new device after this long (default 15 min). */
  sweepBudgetMs?: number;
  /** Pause before each RSS reading, so garbage from enrolling is not counted (default 3 s). */
  sweepSettleMs?: number;
  /** Enrollments before measuring (JIT, connection pools); not recorded. */
  warmup?: number;
  /** Where <timestamp>.json/.md/.svg and latest.md go; default bench/results. */
  resultsDir?: string;
  /** Start the gateway and operator with --cpu-prof, and heap-snapshot the gateway at the largest sweep point. */
  profile?: boolean;
  /** Keep the work dir (component logs, gateway key, profiles) instead of deleting it. */
  keepLogs?: boolean;
  log?: (line: string) => void;
  /** Aborting stops the run: children and the private control plane are stopped, nothing is written. */
  signal?: AbortSignal;
}

const FULL = {
  rates: [20, 100],
  fixedSeconds: 10,
  burstCount: 1000,
  concurrency: 32,
  sweep: [100, 1000, 5000, 10_000],
  warmup: 50,
} as const;

const QUICK = {
  rates: [20, 50],
  fixedSeconds: 3,
  burstCount: 100,
  concurrency: 32,
  sweep: [100, 1000],
  warmup: 10,
} as const;

/** Options with every default filled in. Pure. */
export function resolveSettings(opts: BenchOptions): BenchSettings {
  const base = opts.quick ? QUICK : FULL;
  const rates = opts.rates ?? [...base.rates];
  const fixedSeconds = opts.fixedSeconds ?? base.fixedSeconds;
  const lightRate = rates[0] ?? 20;
  return {
    quick: opts.quick ?? false,
    rates,
    fixedCounts: rates.map((r) => Math.max(1, Math.round(r * fixedSeconds))),
    burstCount: opts.burstCount ?? base.burstCount,
    concurrency: opts.concurrency ?? base.concurrency,
    pollingIntervalMs: opts.pollingIntervalMs ?? 1000,
    pollingCount: opts.pollingCount ?? Math.max(1, Math.round(lightRate * fixedSeconds)),
    sweep: opts.sweep ?? [...base.sweep],
    replyTimeoutMs: opts.replyTimeoutMs ?? 60_000,
    phaseBudgetMs: opts.phaseBudgetMs ?? 300_000,
    sweepBudgetMs: opts.sweepBudgetMs ?? 900_000,
    sweepSettleMs: opts.sweepSettleMs ?? 3000,
    warmup: opts.warmup ?? base.warmup,
  };
}
