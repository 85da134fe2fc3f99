import { readFileSync } from "node:fs";
import { BenchError } from "../errors.ts";

/** Soft "Max open files" from /proc/<pid>/limits text. */
export function parseOpenFilesLimit(limits: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(limits);
  if (!m) return undefined;
  return m[1] === "unlimited" ? Number.POSITIVE_INFINITY : Number(m[1]);
}

/**
 * The sweep keeps every device connected: one socket per device here (the fleet runs in the
 * bench process) and one in the gateway child, which inherits this limit. Fails early with
 * the fix rather than with EMFILE halfway through a long run.
 */
export function checkFdLimit(devices: number): void {
  let limit: number | undefined;
  try {
    limit = parseOpenFilesLimit(readFileSync("/proc/self/limits", "utf8"));
  } catch {
    return; // no procfs: the sweep's RSS/CPU reads will say so
  }
  const need = devices + 1024;
  if (limit !== undefined && limit < need) {
    throw new BenchError(
      "E_FD_LIMIT",
      `open-file limit ${limit} is below the ${need} a ${devices}-device sweep needs: ` +
        "run `ulimit -n 65536` in this shell first, or lower --sweep",
    );
  }
}
