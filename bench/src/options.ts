import { BenchError } from "./errors.ts";
import type { BenchSettings } from "./result.ts";

/** What a run can be limited to (`--phases`); phase ids stay as they are. */
export const PHASE_GROUPS = ["fixed", "burst", "isolated", "polling", "sweep", "reconnect"] as const;
export type PhaseGroup = (typeof PHASE_GROUPS)[number];

/** Largest sweep point: one loopback address and two sockets per device, within Linux's default fs.nr_open (1,048,576). */
export const MAX_SWEEP_DEVICES = 400_000;

export interface BenchOptions {
  /** Any cluster's kubeconfig file (--kubeconfig; else envKubeconfig); neither: a private control plane started (and stopped) for the run. */
  kubeconfig?: string;
  /** $KUBECONFIG as the bench process read it: a colon-separated list; used when kubeconfig is not given. */
  envKubeconfig?: string;
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
  /** Only these phase groups (default all); e.g. ["burst", "isolated"]. */
  phases?: PhaseGroup[];
  /** The reconnect phase brings back at most this many of the enrolled devices (default 10,000, its target's size). */
  reconnectMax?: number;
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
  sweep: [100, 1000, 10_000, 50_000, 100_000],
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
    sweep: validateSweep(opts.sweep ?? [...base.sweep]),
    phases: opts.phases ? [...new Set(opts.phases)] : [...PHASE_GROUPS],
    reconnectMax: opts.reconnectMax ?? 10_000,
    replyTimeoutMs: opts.replyTimeoutMs ?? 60_000,
    phaseBudgetMs: opts.phaseBudgetMs ?? 300_000,
    sweepBudgetMs: opts.sweepBudgetMs ?? 900_000,
    sweepSettleMs: opts.sweepSettleMs ?? 3000,
    warmup: opts.warmup ?? base.warmup,
  };
}

/** Sweep points as the sweep runs them: whole, ascending, distinct, at most MAX_SWEEP_DEVICES. Pure. */
export function validateSweep(points: number[]): number[] {
  for (const p of points) {
    if (!Number.isInteger(p) || p < 1 || p > MAX_SWEEP_DEVICES)
      throw new BenchError("E_USAGE", `sweep points must be whole numbers 1..${MAX_SWEEP_DEVICES}, got ${p}`);
  }
  return [...new Set(points)].sort((a, b) => a - b);
}

/** `--phases fixed,burst,…` -> the groups. Throws E_USAGE on an unknown name. Pure. */
export function parsePhaseGroups(list: string): PhaseGroup[] {
  const names = list
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");
  const bad = names.filter((n) => !(PHASE_GROUPS as readonly string[]).includes(n));
  if (names.length === 0 || bad.length > 0)
    throw new BenchError("E_USAGE", `--phases wants some of ${PHASE_GROUPS.join(",")}, got ${list}`);
  return names as PhaseGroup[];
}
