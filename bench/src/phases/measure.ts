import { parseGatewayCounts, parseGatewayTime } from "../metrics/gateway-counts.ts";
import { increase } from "../metrics/prometheus.ts";
import { parseRequestCounts, requestsPerOp } from "../metrics/request-counts.ts";
import type { Arrival, LoadOutcome } from "../load/arrivals.ts";
import { cpuSplit } from "../procfs/cpu-split.ts";
import { type ProcessRole, snapshotCpu } from "../procfs/sample.ts";
import { type PhaseResult, phaseId, type SystemUnderTest } from "../result.ts";

export type RolePids = Partial<Record<ProcessRole, number>>;

/** What a phase can see of the system while it runs. */
export interface Probes {
  pids: RolePids;
  /** kube-apiserver's /metrics text, when readable. */
  apiserverMetrics: () => Promise<string | undefined>;
  /** The gateway's /metrics text (its admin port). */
  gatewayMetrics: () => Promise<string | undefined>;
}

async function parsed<T>(
  read: () => Promise<string | undefined>,
  parse: (text: string) => T,
): Promise<T | undefined> {
  const text = await read();
  return text === undefined ? undefined : parse(text);
}

/**
 * Runs one load phase and attributes what it cost: the CPU every visible process used, and
 * the apiserver requests per successful operation.
 */
export async function measurePhase(
  system: SystemUnderTest,
  arrival: Arrival,
  concurrency: number,
  probes: Probes,
  run: () => Promise<LoadOutcome & Pick<PhaseResult, "verified" | "retries" | "polls" | "connect">>,
): Promise<PhaseResult> {
  const requestsBefore = await parsed(probes.apiserverMetrics, parseRequestCounts);
  const gatewayBefore = await parsed(probes.gatewayMetrics, (t) => ({
    counts: parseGatewayCounts(t),
    time: parseGatewayTime(t),
  }));
  const before = snapshotCpu(probes.pids);
  const t0 = performance.now();
  const outcome = await run();
  const cpu = cpuSplit(before, snapshotCpu(probes.pids), (performance.now() - t0) / 1000);
  const requestsAfter = await parsed(probes.apiserverMetrics, parseRequestCounts);
  const gatewayAfter = await parsed(probes.gatewayMetrics, (t) => ({
    counts: parseGatewayCounts(t),
    time: parseGatewayTime(t),
  }));
  const apiRequestsPerOp =
    requestsBefore && requestsAfter ? requestsPerOp(requestsBefore, requestsAfter, outcome.ok) : undefined;
  const gatewayCounts =
    gatewayBefore && gatewayAfter ? increase(gatewayBefore.counts, gatewayAfter.counts) : undefined;
  const answered = gatewayBefore && gatewayAfter ? gatewayAfter.time.count - gatewayBefore.time.count : 0;
  const gatewayMeanMs =
    gatewayBefore && gatewayAfter && answered > 0
      ? Math.round(((gatewayAfter.time.seconds - gatewayBefore.time.seconds) * 10_000) / answered) / 10
      : undefined;
  return {
    id: phaseId(system, arrival),
    system,
    arrival,
    concurrency,
    ...outcome,
    cpu,
    apiRequestsPerOp,
    gatewayCounts,
    gatewayMeanMs,
  };
}
