import { RuntimeError } from "./errors.ts";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True if `p` settled within `ms`; the timer never outlives the wait. A rejection counts as settled. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface WaitForOptions {
  timeoutMs: number;
  /** How often the condition is checked (default 20 ms). */
  intervalMs?: number;
  /** Named in the E_TIMEOUT message. */
  what?: string;
  /** Stops waiting early (no error) when this returns true, e.g. on a start-up failure. */
  abort?: () => boolean;
  /** The error thrown on timeout instead of RuntimeError E_TIMEOUT, so callers keep their own codes. */
  onTimeout?: () => Error;
}

/**
 * Resolves once `condition()` is true; throws RuntimeError E_TIMEOUT (or `onTimeout()`) after
 * `timeoutMs`. The condition may be async (a probe); an error it throws ends the wait with that
 * error. For state that has no event to await (an informer's hasSynced, a count reaching zero).
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  opts: WaitForOptions,
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 20;
  while (!(await condition())) {
    if (opts.abort?.()) return;
    if (Date.now() >= deadline) {
      throw (
        opts.onTimeout?.() ??
        new RuntimeError("E_TIMEOUT", `${opts.what ?? "condition"} not met within ${opts.timeoutMs} ms`)
      );
    }
    await sleep(Math.min(interval, Math.max(1, deadline - Date.now())));
  }
}
