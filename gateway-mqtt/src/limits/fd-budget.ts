import { readFileSync, readdirSync } from "node:fs";

/** File descriptors kept out of the connection caps: logs, the Kubernetes client, listeners, timers. */
export const FD_RESERVE = 256;

/**
 * The process's soft limit on open files (`ulimit -n`), read from /proc/self/limits on
 * Linux; undefined where that file does not exist (the caps then use fixed defaults).
 */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/limits", "utf8");
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (!m) return undefined;
  return m[1] === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}

/** Descriptors the connection caps may use together: the limit less a reserve (never below 64). */
export function connectionFdBudget(fdLimit: number | undefined): number {
  if (fdLimit === undefined) return 4096;
  return Math.max(64, fdLimit - FD_RESERVE);
}

/** Open descriptors of this process (Linux /proc/self/fd); undefined elsewhere. */
export function openFdCount(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}
