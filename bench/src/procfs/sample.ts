import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseCpuTicks, parseVmRssKiB } from "./parse.ts";

/** Ticks per second of utime/stime; 100 on every mainstream Linux, asked once anyway. */
let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
    const n = Number(r.stdout?.trim());
    clockTicks = r.status === 0 && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** CPU seconds (user + system) a process has used so far, or undefined if it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const ticks = parseCpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return ticks === undefined ? undefined : ticks / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** Resident set size in KiB, or undefined if the process is gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    return parseVmRssKiB(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return undefined;
  }
}

/** The processes whose CPU the bench splits, by role. */
/** "bench" is this process: load generator, floor client and the whole simulated fleet. */
export type ProcessRole = "etcd" | "kube-apiserver" | "operator" | "gateway" | "bench";

export type CpuSnapshot = Partial<Record<ProcessRole, number>>;

export function snapshotCpu(pids: Partial<Record<ProcessRole, number>>): CpuSnapshot {
  const out: CpuSnapshot = {};
  for (const [role, pid] of Object.entries(pids) as Array<[ProcessRole, number | undefined]>) {
    if (pid === undefined) continue;
    const s = cpuSeconds(pid);
    if (s !== undefined) out[role] = s;
  }
  return out;
}
