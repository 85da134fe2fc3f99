import { parseDuration } from "@devreg/runtime";
import { UsageError } from "./errors.ts";

/**
 * Option values the commands share. A bad one is a UsageError (exit 2) that names the option.
 * `parse*` take the text in an action; `port` and `positive` are commander argParsers.
 */

/**
 * A duration in devreg's one grammar (runtime's: 1500ms, 90s, 10m, 1h30m, 2d, or bare
 * seconds), in milliseconds, greater than 0.
 */
export function parseDurationMs(arg: string, option: string): number {
  let ms: number;
  try {
    ms = parseDuration(arg);
  } catch (e) {
    throw new UsageError(`${option}: ${(e as Error).message}`);
  }
  if (!(ms > 0)) throw new UsageError(`${option} must be greater than 0`);
  return ms;
}

export function parsePositiveInt(arg: string, option: string): number {
  return parseWholeNumber(arg, option, 1);
}

export function parseNonNegativeInt(arg: string, option: string): number {
  return parseWholeNumber(arg, option, 0);
}

function parseWholeNumber(arg: string, option: string, min: number): number {
  if (!/^\d+$/.test(arg.trim()) || Number(arg) < min) {
    throw new UsageError(`${option} must be a whole number >= ${min}; got ${JSON.stringify(arg)}`);
  }
  return Number(arg);
}

export function parsePositiveNumber(arg: string, option: string): number {
  const n = Number(arg);
  if (arg.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`${option} must be a number > 0; got ${JSON.stringify(arg)}`);
  }
  return n;
}

/** A TCP port, 0 (any free port) to 65535. */
export function port(option: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new UsageError(`${option} must be a port number (0-65535), not ${v}`);
    return n;
  };
}

export function positive(option: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!(n > 0)) throw new UsageError(`${option} must be a positive number, not ${v}`);
    return n;
  };
}
