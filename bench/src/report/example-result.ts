import { CURVE_PERCENTILES } from "@devreg/runtime";
import type { Arrival } from "../load/arrivals.ts";
import type { BenchResult, PhaseResult, SweepPoint, SystemUnderTest } from "../result.ts";
import { phaseId } from "../result.ts";

/** A plausible result for rendering tests: latencies grow like `base` × a tail factor. */
export function examplePhase(
  system: SystemUnderTest,
  arrival: Arrival,
  base: number,
  throughputPerSec = 100,
): PhaseResult {
  const curve = CURVE_PERCENTILES.map((p) => ({ p, ms: base * (1 + p / 50 + (p > 99 ? 2 : 0)) }));
  const at = (p: number) => curve.find((c) => c.p === p)!.ms;
  return {
    id: phaseId(system, arrival),
    system,
    arrival,
    concurrency: 32,
    count: 200,
    ok: 200,
    errors: 0,
    notStarted: 0,
    errorKinds: {},
    latency: {
      count: 200,
      min: base,
      mean: at(50),
      p50: at(50),
      p90: at(90),
      p99: at(99),
      max: at(100),
      curve,
    },
    durationMs: 10_000,
    throughputPerSec,
    maxStartLagMs: 0,
    maxInFlight: 4,
    verified: system === "floor" ? 0 : 200,
    cpu: [
      { role: "kube-apiserver", cpuSeconds: 5, sharePct: 50, cores: 0.5 },
      { role: "gateway", cpuSeconds: 5, sharePct: 50, cores: 0.5 },
    ],
  };
}

export function exampleSweepPoint(devices: number, rssPerDeviceKiB: number): SweepPoint {
  return {
    devices,
    connected: devices,
    enrolled: devices,
    failed: 0,
    failedKinds: {},
    enrollDurationMs: devices * 5,
    enrollPerSec: 200,
    latencyP50Ms: 50,
    latencyP99Ms: 200,
    gatewayRssBaselineKiB: 80_000,
    gatewayRssKiB: 80_000 + devices * rssPerDeviceKiB,
    rssPerDeviceKiB,
    cpu: [
      { role: "etcd", cpuSeconds: 1, sharePct: 10, cores: 0.1 },
      { role: "kube-apiserver", cpuSeconds: 4, sharePct: 40, cores: 0.4 },
      { role: "operator", cpuSeconds: 2, sharePct: 20, cores: 0.2 },
      { role: "gateway", cpuSeconds: 2, sharePct: 20, cores: 0.2 },
      { role: "bench", cpuSeconds: 1, sharePct: 10, cores: 0.1 },
    ],
  };
}

export function exampleResult(overrides: Partial<BenchResult> = {}): BenchResult {
  return {
    version: 1,
    startedAt: "2025-01-01T00:00:00.000Z",
    finishedAt: "2025-01-01T00:05:00.000Z",
    durationMs: 300_000,
    machine: {
      cpus: 2,
      cpuModel: "Example CPU",
      memoryMiB: 4096,
      node: "v20.0.0",
      platform: "linux",
      loadAvgStart: 0.5,
      loadAvgEnd: 1.5,
    },
    cluster: {
      kind: "private",
      server: "https://127.0.0.1:6443",
      namespace: "bench-x",
      floorNamespace: "bench-x-floor",
    },
    settings: {
      quick: false,
      rates: [20, 100],
      fixedCounts: [200, 1000],
      burstCount: 1000,
      concurrency: 32,
      pollingIntervalMs: 1000,
      pollingCount: 200,
      sweep: [100, 1000],
      phases: ["fixed", "burst", "isolated", "polling", "sweep", "reconnect"],
      reconnectMax: 10_000,
      replyTimeoutMs: 30_000,
      phaseBudgetMs: 300_000,
      sweepBudgetMs: 900_000,
      sweepSettleMs: 3000,
      warmup: 50,
    },
    phases: [
      examplePhase("floor", { mode: "fixed", ratePerSec: 20 }, 4, 20),
      examplePhase("devreg", { mode: "fixed", ratePerSec: 20 }, 8, 20),
      examplePhase("polling", { mode: "fixed", ratePerSec: 20 }, 1000, 20),
      examplePhase("floor", { mode: "burst" }, 40, 400),
      examplePhase("devreg", { mode: "burst" }, 80, 300),
      examplePhase("floor", { mode: "burst", of: "isolated" }, 35, 450),
      examplePhase("devreg", { mode: "burst", of: "isolated" }, 70, 400),
      // The heavy rate of settings.rates: the keep-up target's phase.
      examplePhase("floor", { mode: "fixed", ratePerSec: 100 }, 5, 99.8),
      examplePhase("devreg", { mode: "fixed", ratePerSec: 100 }, 10, 99.4),
    ],
    sweep: [exampleSweepPoint(100, 30), exampleSweepPoint(1000, 18)],
    cpuTotal: [{ role: "kube-apiserver", cpuSeconds: 100, sharePct: 100, cores: 0.33 }],
    targets: [],
    notes: ["example"],
    ...overrides,
  };
}
