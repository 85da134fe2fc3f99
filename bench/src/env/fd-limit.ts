import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** Soft and hard "Max open files" from /proc/<pid>/limits text. */
export function parseOpenFilesLimits(limits: string): { soft: number; hard: number } | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)\s+/m.exec(limits);
  if (!m) return undefined;
  const n = (v: string) => (v === "unlimited" ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

/**
 * How the gateway sizes its MQTT connection cap from its open-file limit, mirrored from
 * gateway-mqtt (src/limits/fd-budget.ts FD_RESERVE, src/config.ts `caps(0.7, 50_000, …)`):
 * 70 % of (limit − 256), at most 50,000 unless configured.
 */
export const GATEWAY_FD = { reserve: 256, mqttShare: 0.7, mqttCeiling: 50_000 } as const;

/** Sockets beyond the devices themselves: devices still connecting, the bench's own clients, logs. */
const SLACK = 1024;

export interface FdPlan {
  /** Open-file limit (soft = hard) the bench and its children (the gateway) need. */
  limit: number;
  /**
   * The gateway's MQTT connection cap to configure, when its default (derived from `limit`)
   * stops below the devices because of the fixed ceiling; undefined: the default suffices.
   */
  mqttCap?: number;
}

/**
 * What a sweep to `devices` connected devices needs: the fleet runs in the bench process
 * (one socket per device) and the gateway child holds one per device, within 70 % of its
 * limit, which it inherits from the bench. Pure.
 */
export function planFdLimit(devices: number): FdPlan {
  const connections = devices + SLACK;
  const gateway = Math.ceil(connections / GATEWAY_FD.mqttShare) + GATEWAY_FD.reserve;
  const limit = Math.ceil(Math.max(gateway, devices + SLACK) / 1024) * 1024;
  return { limit, mqttCap: connections > GATEWAY_FD.mqttCeiling ? connections : undefined };
}

/** The most devices a sweep can hold within an open-file limit (inverse of planFdLimit). Pure. */
export function devicesWithin(limit: number): number {
  const gateway = Math.floor((limit - GATEWAY_FD.reserve) * GATEWAY_FD.mqttShare);
  return Math.max(0, Math.min(gateway, limit) - SLACK);
}

/** Sweep points that fit `maxDevices`, plus `maxDevices` itself when larger points were dropped. Pure. */
export function capSweep(points: number[], maxDevices: number): { points: number[]; dropped: number[] } {
  const fit = points.filter((p) => p <= maxDevices);
  const dropped = points.filter((p) => p > maxDevices);
  if (dropped.length > 0 && maxDevices > 0 && !fit.includes(maxDevices)) fit.push(maxDevices);
  return { points: fit, dropped };
}

function readOwnLimits(): { soft: number; hard: number } | undefined {
  try {
    return parseOpenFilesLimits(readFileSync("/proc/self/limits", "utf8"));
  } catch {
    return undefined; // no procfs: the sweep's RSS/CPU reads will say so
  }
}

export type FdLimitOutcome = { ok: true; raisedFrom?: number } | { ok: false; limit: number; why: string };

/**
 * Makes sure this process (and so every child it starts afterwards) may open `plan.limit`
 * files. Node cannot call setrlimit itself, so a low limit is raised with `prlimit --pid`
 * on this very process; beyond the hard limit that needs CAP_SYS_RESOURCE (root outside a
 * container that drops it). When it cannot, says why, so the caller can size the sweep to
 * what fits rather than fail with EMFILE halfway through a long run.
 */
export function ensureFdLimit(plan: FdPlan): FdLimitOutcome {
  const before = readOwnLimits();
  if (before === undefined || before.soft >= plan.limit) return { ok: true };
  const hard = Math.max(plan.limit, before.hard);
  const r = spawnSync("prlimit", ["--pid", String(process.pid), `--nofile=${plan.limit}:${hard}`], {
    encoding: "utf8",
  });
  const after = readOwnLimits();
  if (r.status === 0 && after !== undefined && after.soft >= plan.limit)
    return { ok: true, raisedFrom: before.soft };
  const why = (r.stderr || r.error?.message || "").trim().replace(/^prlimit: /, "");
  return { ok: false, limit: after?.soft ?? before.soft, why: why || "prlimit did not raise it" };
}
