/** Pure parsers for the two /proc files the bench reads. */

/** VmRSS from /proc/<pid>/status, in KiB (the kernel writes "kB" but means KiB). */
export function parseVmRssKiB(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  return m ? Number(m[1]) : undefined;
}

/**
 * utime + stime from /proc/<pid>/stat, in clock ticks. Fields are counted after the last
 * ")" because the command name (field 2) may itself contain spaces and parentheses.
 */
export function parseCpuTicks(stat: string): number | undefined {
  const close = stat.lastIndexOf(")");
  if (close < 0) return undefined;
  // After ")": field 3 (state) is index 0, so utime (field 14) is index 11, stime index 12.
  const fields = stat
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return utime + stime;
}
