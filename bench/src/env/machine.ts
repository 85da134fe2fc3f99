import { cpus, loadavg, totalmem } from "node:os";
import type { MachineInfo } from "../result.ts";

/** What the machine is, and how busy it was (1-minute load average at start and end). */
export function machineInfo(loadAvgStart: number): MachineInfo {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    platform: process.platform,
    loadAvgStart,
    loadAvgEnd: loadAvg1(),
  };
}

export function loadAvg1(): number {
  return loadavg()[0] ?? 0;
}
