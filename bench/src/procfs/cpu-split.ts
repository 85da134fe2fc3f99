import type { CpuSnapshot, ProcessRole } from "./sample.ts";

/** CPU used by one process over an interval. */
export interface CpuShare {
  role: ProcessRole;
  cpuSeconds: number;
  /** Share of the CPU all measured processes used together, in %. */
  sharePct: number;
  /** Average cores busy over the interval (cpuSeconds / wall seconds). */
  cores: number;
}

/** Per-process CPU between two snapshots; processes missing from either side are left out. */
export function cpuSplit(before: CpuSnapshot, after: CpuSnapshot, wallSeconds: number): CpuShare[] {
  const used: Array<[ProcessRole, number]> = [];
  for (const [role, end] of Object.entries(after) as Array<[ProcessRole, number]>) {
    const start = before[role];
    if (start === undefined) continue;
    used.push([role, Math.max(0, end - start)]);
  }
  const total = used.reduce((a, [, s]) => a + s, 0);
  return used.map(([role, s]) => ({
    role,
    cpuSeconds: round2(s),
    sharePct: total > 0 ? round1((100 * s) / total) : 0,
    cores: wallSeconds > 0 ? round2(s / wallSeconds) : 0,
  }));
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/**
 * CPU seconds per role over a whole run, even when a role's process is replaced (the bench
 * restarts the gateway before the sweep): each process's usage is banked when it retires.
 */
export class CpuLedger {
  private readonly banked = new Map<ProcessRole, number>();
  private readonly live = new Map<ProcessRole, { pid: number; start: number }>();

  constructor(private readonly read: (pid: number) => number | undefined) {}

  track(role: ProcessRole, pid: number): void {
    const start = this.read(pid);
    if (start !== undefined) this.live.set(role, { pid, start });
  }

  /** Banks what `role`'s current process used; call before it exits. */
  retire(role: ProcessRole): void {
    const l = this.live.get(role);
    if (!l) return;
    const end = this.read(l.pid);
    if (end !== undefined) this.banked.set(role, (this.banked.get(role) ?? 0) + end - l.start);
    this.live.delete(role);
  }

  split(wallSeconds: number): CpuShare[] {
    for (const role of [...this.live.keys()]) this.retire(role);
    const before: CpuSnapshot = {};
    const after: CpuSnapshot = {};
    for (const [role, s] of this.banked) {
      before[role] = 0;
      after[role] = s;
    }
    return cpuSplit(before, after, wallSeconds);
  }
}
