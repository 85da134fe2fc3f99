import type { Arrival, LoadOutcome } from "./load/arrivals.ts";
import type { CpuShare } from "./procfs/cpu-split.ts";

/** The three systems compared under the same load. */
export type SystemUnderTest = "floor" | "devreg" | "polling";

/** One load phase: a system, an arrival pattern, and what came back. */
export interface PhaseResult extends LoadOutcome {
  /** `<system>-fixed-<rate>` or `<system>-burst`. */
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
  /** polling: status GETs the original gateway made. */
  polls?: number;
}

/** One scale-sweep point: `devices` enrolled and left connected while the gateway is measured. */
export interface SweepPoint {
  devices: number;
  connected: number;
  enrolled: number;
  /** Devices that did not enroll in time at this step. */
  failed: number;
  enrollDurationMs: number;
  enrollPerSec: number;
  /** Gateway RSS just before the devices connected, and with all of them connected. */
  gatewayRssBaselineKiB: number;
  gatewayRssKiB: number;
  /** (gatewayRssKiB - gatewayRssBaselineKiB) / connected. */
  rssPerDeviceKiB: number;
  cpu: CpuShare[];
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
  replyTimeoutMs: number;
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
  return arrival.mode === "burst" ? `${system}-burst` : `${system}-fixed-${arrival.ratePerSec}`;
}
