import { RuntimeError } from "./errors.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses "500ms", "15s", "10m", "1h30m", "2d"; a bare number means seconds (so `--for 600` works).
 * Returns milliseconds. Throws E_CONFIG with the offending text.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ""] ?? 0);
    matched = re.lastIndex;
  }
  if (s === "" || matched !== s.length) {
    throw new RuntimeError("E_CONFIG", `"${text}" is not a duration (examples: 90s, 10m, 1h30m)`);
  }
  return Math.round(total);
}

/** 0:09:59-style text for humans: "9m59s", "1h2m", "45s". */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
