import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { BenchError } from "../errors.ts";

/**
 * The isolated bursts (issue 16) model a control plane on nodes of its own: kube-apiserver
 * and etcd get one half of the cores, everything else (gateway, operator, the bench and its
 * simulated fleet) the other half. On 2 cores: cpu 0 and cpu 1.
 */
export type IsolationPlan =
  | { kind: "pin"; controlPlane: string; rest: string }
  | { kind: "skip"; why: string };

/** Which cores go to the control plane and which to the rest, or why the phases cannot run. Pure. */
export function planIsolation(o: {
  cpus: number;
  external: boolean;
  controlPlanePids: Array<number | undefined>;
  haveTaskset: boolean;
}): IsolationPlan {
  if (o.external) return { kind: "skip", why: "the control plane is not this machine's (--kubeconfig)" };
  if (o.cpus < 2) return { kind: "skip", why: `${o.cpus} core: nothing to split` };
  if (o.controlPlanePids.some((p) => p === undefined))
    return { kind: "skip", why: "the kube-apiserver and etcd pids are unknown" };
  if (!o.haveTaskset) return { kind: "skip", why: "taskset (util-linux) is not installed" };
  const half = Math.floor(o.cpus / 2);
  return { kind: "pin", controlPlane: cpuRange(0, half - 1), rest: cpuRange(half, o.cpus - 1) };
}

function cpuRange(from: number, to: number): string {
  return from === to ? String(from) : `${from}-${to}`;
}

/** `Cpus_allowed_list` of /proc/<pid>/status text (e.g. "0-1"), the affinity to restore. Pure. */
export function parseCpusAllowedList(status: string): string | undefined {
  return /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(status)?.[1];
}

export function haveTaskset(): boolean {
  return spawnSync("taskset", ["--version"], { stdio: "ignore" }).status === 0;
}

/** Sets the affinity of every thread of `pid` (-a: threads started later inherit it). */
function setAffinity(pid: number, cpus: string): void {
  const r = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { encoding: "utf8" });
  if (r.status !== 0)
    throw new BenchError(
      "E_PIN",
      `taskset -a -p -c ${cpus} ${pid} failed: ${(r.stderr || r.error?.message || "").trim()}`,
    );
}

function affinityOf(pid: number): string {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch (e) {
    throw new BenchError("E_PIN", `cannot read the affinity of pid ${pid}: ${(e as Error).message}`);
  }
  const list = parseCpusAllowedList(status);
  if (!list) throw new BenchError("E_PIN", `no Cpus_allowed_list for pid ${pid}`);
  return list;
}

/**
 * Runs `fn` with `controlPlane` pids on the plan's control-plane cores and `rest` on the
 * others, then puts every process back on the cores it had, so later phases are unaffected
 * (also when `fn` or a pin fails).
 */
export async function withIsolation<T>(
  plan: Extract<IsolationPlan, { kind: "pin" }>,
  pids: { controlPlane: number[]; rest: number[] },
  fn: () => Promise<T>,
): Promise<T> {
  const all = [...pids.controlPlane, ...pids.rest];
  const original = new Map(all.map((p) => [p, affinityOf(p)]));
  try {
    for (const p of pids.controlPlane) setAffinity(p, plan.controlPlane);
    for (const p of pids.rest) setAffinity(p, plan.rest);
    return await fn();
  } finally {
    for (const [p, cpus] of original) {
      try {
        setAffinity(p, cpus);
      } catch {
        // A process that exited meanwhile has nothing to restore.
      }
    }
  }
}
