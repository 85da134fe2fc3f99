import type { Arrival, LoadOutcome } from "../load/arrivals.ts";
import { cpuSplit } from "../procfs/cpu-split.ts";
import { type ProcessRole, snapshotCpu } from "../procfs/sample.ts";
import { type PhaseResult, phaseId, type SystemUnderTest } from "../result.ts";

export type RolePids = Partial<Record<ProcessRole, number>>;

/** Runs one load phase and attributes the CPU every visible process used meanwhile. */
export async function measurePhase(
  system: SystemUnderTest,
  arrival: Arrival,
  concurrency: number,
  pids: RolePids,
  run: () => Promise<LoadOutcome & { verified: number; retries?: number; polls?: number }>,
): Promise<PhaseResult> {
  const before = snapshotCpu(pids);
  const t0 = performance.now();
  const outcome = await run();
  const cpu = cpuSplit(before, snapshotCpu(pids), (performance.now() - t0) / 1000);
  return { id: phaseId(system, arrival), system, arrival, concurrency, ...outcome, cpu };
}
