import type { LatencySummary } from "@devreg/runtime";
import type { Arrival, LoadOutcome } from "./load/arrivals.ts";
import type { PhaseGroup } from "./options.ts";
import type { CpuShare } from "./procfs/cpu-split.ts";

/** The three systems compared under the same load. */
export type SystemUnderTest = "floor" | "devreg" | "polling";

/** One load phase: a system, an arrival pattern, and what came back. */
export interface PhaseResult extends LoadOutcome {
  /** `<system>-fixed-<rate>`, `<system>-burst`, `<system>-burst-isolated` or `<system>-reconnect`. */
  id: string;
  system: SystemUnderTest;
  arrival: Arrival;
  concurrency: number;
  /** devreg and polling: answers that carried a device UUID (devreg: signature verified too). */
  verified: number;
  /** CPU per process during the phase (only for processes the bench can see). */
  cpu: CpuShare[];
  /** devreg: requests published beyond one per device (busy/pending answers, timeouts). */
  retries?: number;
  /**
   * devreg: boot to first publish (TCP + MQTT CONNECT + SUBSCRIBE). Not in `latency`, but in
   * throughput, since every burst device connects before it can enroll.
   */
  connect?: LatencySummary;
  /** polling: status GETs the original gateway made. */
  polls?: number;
  /**
   * kube-apiserver requests per successful operation during the phase, by "VERB resource",
   * e.g. {"POST deviceregistrations": 1, "PATCH deviceregistrations/status": 1}. Counts every
   * client of the apiserver, so background traffic (lease renewals) shows up as small shares.
   */
  apiRequestsPerOp?: Record<string, number>;
  /**
   * What the gateway counted during the phase (its /metrics): answers by status and refusals
   * by kind, e.g. {"answered approved": 200, "refused connect_rate": 3}. Busy answers or
   * refusals mean a gateway limit shaped the numbers.
   */
  gatewayCounts?: Record<string, number>;
  /** devreg: mean time a request spent inside the gateway (receipt to reply sent), from its /metrics. */
  gatewayMeanMs?: number;
}

/** One scale-sweep point: `devices` enrolled and left connected while the gateway is measured. */
export interface SweepPoint {
  devices: number;
  connected: number;
  enrolled: number;
  /** Devices that did not enroll in time at this step, and why (error code -> count). */
  failed: number;
  failedKinds: Record<string, number>;
  enrollDurationMs: number;
  enrollPerSec: number;
  /** Publish -> verified reply of this step's devices, in ms. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Gateway RSS just before the devices connected, and with all of them connected. */
  gatewayRssBaselineKiB: number;
  gatewayRssKiB: number;
  /** RSS of the bench process (the whole simulated fleet) at this point: what 1 device costs the load generator. */
  benchRssKiB?: number;
  /** (gatewayRssKiB - gatewayRssBaselineKiB) / connected. */
  rssPerDeviceKiB: number;
  /** The gateway's V8 heap in use per connected device (same baseline), when its /metrics is readable. */
  heapPerDeviceKiB?: number;
  cpu: CpuShare[];
  /** The gateway's answers and refusals while this step enrolled (see PhaseResult). */
  gatewayCounts?: Record<string, number>;
  /** devreg: mean time a request spent inside the gateway (receipt to reply sent), from its /metrics. */
  gatewayMeanMs?: number;
}

export interface TargetCheck {
  id: string;
  description: string;
  target: string;
  actual: string;
  /** null: the run did not measure it (e.g. a --quick sweep that stops below 10,000). */
  met: boolean | null;
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryMiB: number;
  node: string;
  platform: string;
  /** 1-minute load average at start and end: other work on the machine shows up here. */
  loadAvgStart: number;
  loadAvgEnd: number;
}

export interface BenchSettings {
  quick: boolean;
  /** Arrival rates of the fixed-rate phases; the first is the "light" rate the targets use. */
  rates: number[];
  /** Devices per fixed-rate phase, per rate. */
  fixedCounts: number[];
  burstCount: number;
  concurrency: number;
  pollingIntervalMs: number;
  pollingCount: number;
  sweep: number[];
  /** Phase groups this run ran (`--phases`). */
  phases: PhaseGroup[];
  /** Enrolled devices the reconnect phase brings back at most. */
  reconnectMax: number;
  replyTimeoutMs: number;
  phaseBudgetMs: number;
  sweepBudgetMs: number;
  sweepSettleMs: number;
  /** Unrecorded enrollments (and floor pairs) before measuring. */
  warmup: number;
}

export interface BenchResult {
  version: 1;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  machine: MachineInfo;
  cluster: { kind: "private" | "external"; server: string; namespace: string; floorNamespace: string };
  settings: BenchSettings;
  phases: PhaseResult[];
  sweep: SweepPoint[];
  /** CPU per process over the whole run. */
  cpuTotal: CpuShare[];
  targets: TargetCheck[];
  notes: string[];
}

export function phaseId(system: SystemUnderTest, arrival: Arrival): string {
  if (arrival.mode === "fixed") return `${system}-fixed-${arrival.ratePerSec}`;
  if (arrival.of === "reconnect") return `${system}-reconnect`;
  return arrival.of === "isolated" ? `${system}-burst-isolated` : `${system}-burst`;
}

/**
 * CPU milliseconds all visible processes spent per successful operation: robust to other
 * load on the machine (unlike latency), and 1000 × cores / this bounds the throughput.
 */
export function cpuMsPerOp(p: Pick<PhaseResult, "cpu" | "ok">): number {
  if (p.ok === 0) return 0;
  return Math.round((p.cpu.reduce((a, c) => a + c.cpuSeconds, 0) * 10_000) / p.ok) / 10;
}
