import { LatencyRecorder, type LatencySummary, sleep } from "@devreg/runtime";
import { errorKind } from "../errors.ts";

/**
 * How requests arrive. `fixed`: open loop, one start every 1/rate s whatever the answers do
 * (capped by `concurrency` so an overloaded system cannot pile up unbounded work).
 * `burst`: all at once, `concurrency` workers pulling from one queue (closed loop).
 */
export type Arrival =
  | { mode: "fixed"; ratePerSec: number }
  /**
   * `of: "reconnect"`: the burst is already-enrolled devices coming back (phase id …-reconnect);
   * `of: "isolated"`: the usual burst with the control plane pinned to cores of its own (…-burst-isolated).
   */
  | { mode: "burst"; of?: "reconnect" | "isolated" };

/** How a phase offers its load: how many requests, when they arrive, how many at once. */
export interface LoadShape {
  count: number;
  arrival: Arrival;
  concurrency: number;
  /** Start nothing new after this many ms (requests already running finish): keeps runs bounded. */
  budgetMs?: number;
}

/** The load shape of any phase's options. Pure. */
export function loadShape(o: LoadShape): LoadShape {
  return { count: o.count, arrival: o.arrival, concurrency: o.concurrency, budgetMs: o.budgetMs };
}

export interface LoadOptions extends LoadShape {
  /** Runs request `i` and resolves with its own latency in ms (the task decides what it times). */
  task: (i: number) => Promise<number>;
  now?: () => number;
}

export interface LoadOutcome {
  count: number;
  ok: number;
  errors: number;
  /** Requests never started because the time budget ran out. */
  notStarted: number;
  /** Errors by code, e.g. {"E_KUBE_TIMEOUT": 2}. */
  errorKinds: Record<string, number>;
  latency: LatencySummary;
  /** First start to last completion. */
  durationMs: number;
  /** Successful requests per second over durationMs. */
  throughputPerSec: number;
  /** Largest delay of a fixed-rate start behind its schedule (0 for bursts): >0 means the cap was hit. */
  maxStartLagMs: number;
  maxInFlight: number;
}

export async function runLoad(opts: LoadOptions): Promise<LoadOutcome> {
  const now = opts.now ?? (() => performance.now());
  const recorder = new LatencyRecorder();
  const errorKinds: Record<string, number> = {};
  let errors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let maxStartLagMs = 0;

  const runOne = async (i: number): Promise<void> => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      recorder.record(await opts.task(i));
    } catch (err) {
      errors++;
      const kind = errorKind(err);
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
    } finally {
      inFlight--;
    }
  };

  const t0 = now();
  const budgetLeft = () => opts.budgetMs === undefined || now() - t0 < opts.budgetMs;
  let started = 0;
  if (opts.arrival.mode === "burst") {
    const worker = async () => {
      while (started < opts.count && budgetLeft()) await runOne(started++);
    };
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.count) }, worker));
  } else {
    const intervalMs = 1000 / opts.arrival.ratePerSec;
    const running = new Set<Promise<void>>();
    for (let i = 0; i < opts.count; i++) {
      const due = t0 + i * intervalMs;
      const wait = due - now();
      if (wait > 1) await sleep(wait);
      while (running.size >= opts.concurrency) await Promise.race(running);
      if (!budgetLeft()) break;
      started++;
      maxStartLagMs = Math.max(maxStartLagMs, now() - due);
      const p: Promise<void> = runOne(i).finally(() => running.delete(p));
      running.add(p);
    }
    await Promise.all(running);
  }
  const durationMs = now() - t0;
  const ok = recorder.count;
  return {
    count: opts.count,
    ok,
    errors,
    notStarted: opts.count - started,
    errorKinds,
    latency: recorder.summary(),
    durationMs: Math.round(durationMs),
    throughputPerSec: durationMs > 0 ? round1((ok * 1000) / durationMs) : 0,
    maxStartLagMs: Math.round(maxStartLagMs),
    maxInFlight,
  };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
