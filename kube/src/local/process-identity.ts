import { readdirSync, readFileSync } from "node:fs";

/**
 * Who a pid is, as Linux knows it: the pid, its start time (field 22 of /proc/<pid>/stat, in
 * clock ticks since boot) and its argv. A pid is reused once its process exits; the pair
 * (pid, startTicks) is not, and argv says whether it is the program we started.
 */
export interface ProcessIdentity {
  pid: number;
  startTicks: number;
  argv: string[];
}

/**
 * Field 22 (starttime) of a /proc/<pid>/stat line. Pure. The command name (field 2) is in
 * parentheses and may itself hold spaces and parentheses, so fields are counted after the LAST ")".
 */
export function parseStartTicks(statLine: string): number | undefined {
  const close = statLine.lastIndexOf(")");
  if (close < 0) return undefined;
  // After ")": field 3 (state) is index 0, so field 22 is index 19.
  const fields = statLine.slice(close + 2).split(" ");
  const ticks = Number(fields[19]);
  return Number.isSafeInteger(ticks) && ticks >= 0 ? ticks : undefined;
}

/** /proc/<pid>/cmdline: NUL-separated argv with a trailing NUL. Pure. */
export function parseCmdline(raw: string): string[] {
  const parts = raw.split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

/** The identity of a live pid, or undefined if there is no such process (or /proc is not Linux's). */
export function processIdentity(pid: number): ProcessIdentity | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const startTicks = parseStartTicks(readFileSync(`/proc/${pid}/stat`, "utf8"));
    if (startTicks === undefined) return undefined;
    const argv = parseCmdline(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
    // A zombie has an empty cmdline: it is not running anything any more.
    if (argv.length === 0) return undefined;
    return { pid, startTicks, argv };
  } catch {
    return undefined;
  }
}

/** Same process: same pid, same start time, same argv. Pure. */
export function sameProcess(a: ProcessIdentity, b: ProcessIdentity): boolean {
  return a.pid === b.pid && a.startTicks === b.startTicks && sameArgv(a.argv, b.argv);
}

export function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/**
 * `recorded` is still running: its pid is alive with the recorded start time and argv. A
 * reused pid (another program, or the same program started again) is not.
 */
export function isStillRunning(recorded: ProcessIdentity): boolean {
  const now = processIdentity(recorded.pid);
  return now !== undefined && sameProcess(now, recorded);
}

/** Live processes whose argv is exactly `argv` (e.g. etcd restarted by hand with the same flags). */
export function findByArgv(argv: readonly string[]): ProcessIdentity[] {
  let pids: number[];
  try {
    pids = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
  const out: ProcessIdentity[] = [];
  for (const pid of pids) {
    const id = processIdentity(pid);
    if (id && sameArgv(id.argv, argv)) out.push(id);
  }
  return out;
}

/** The process group of `pid` (field 5 of /proc/<pid>/stat), or undefined. */
export function processGroupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    return Number.isSafeInteger(pgrp) ? pgrp : undefined;
  } catch {
    return undefined;
  }
}
