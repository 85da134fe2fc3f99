import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { BenchError } from "../errors.ts";

/** Soft "Max open files" from /proc/<pid>/limits text. */
export function parseOpenFilesLimit(limits: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(limits);
  if (!m) return undefined;
  return m[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(m[1]);
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

function readOwnLimit(): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync("/proc/self/limits", "utf8"));
  } catch {
    return undefined; // no procfs: the sweep's RSS/CPU reads will say so
  }
}

/**
 * Makes sure this process (and so every child it starts afterwards) may open `plan.limit`
 * files. Node cannot call setrlimit itself, so a low limit is raised with `prlimit --pid`
 * on this very process: that needs root (CAP_SYS_RESOURCE) when the hard limit is below the
 * plan. Fails early with the fix rather than with EMFILE halfway through a long run.
 * Returns the limit before, when it was raised.
 */
export function ensureFdLimit(plan: FdPlan, devices: number): { raisedFrom?: number } {
  const limit = readOwnLimit();
  if (limit === undefined || limit >= plan.limit) return {};
  const r = spawnSync("prlimit", ["--pid", String(process.pid), `--nofile=${plan.limit}:${plan.limit}`], {
    encoding: "utf8",
  });
  const after = readOwnLimit();
  if (r.status === 0 && after !== undefined && after >= plan.limit) return { raisedFrom: limit };
  const why = (r.stderr || r.error?.message || "").trim();
  throw new BenchError(
    "E_FD_LIMIT",
    `open-file limit ${limit} is below the ${plan.limit} a ${devices}-device sweep needs (the fleet here and the ` +
      `gateway's connection cap, 70 % of its limit) and \`prlimit --pid ${process.pid} --nofile=${plan.limit}:${plan.limit}\` ` +
      `failed${why ? ` (${why})` : ""}: run \`ulimit -n ${plan.limit}\` as root in this shell first, or lower --sweep`,
  );
}
