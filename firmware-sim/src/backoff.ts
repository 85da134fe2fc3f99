import { type EnrollReply, REPLY_TIMEOUT_SECONDS, retryDelaySeconds } from "@devreg/protocol";

/** When to try again. All delays are computed here, so the state machine stays about order, not time. */
export interface RetrySettings {
  /** How long a published request may go unanswered before it counts as a timeout. */
  replyTimeoutMs: number;
  /** Reconnect backoff after a failed connect or a dropped connection: base doubling to cap. */
  reconnectBaseMs: number;
  reconnectCapMs: number;
  /**
   * Seconds to wait after a reply (or a reply timeout) before a new request, or null to
   * stop. Default: the protocol's retryDelaySeconds [PROTO-31], which honours the
   * gateway's retryAfterSeconds with up to 10 % jitter and backs off 5 s -> 300 s on
   * timeouts and errors, so the simulator retries exactly as real firmware must.
   */
  retryDelaySeconds: (
    outcome: EnrollReply | "timeout",
    attempt: number,
    random: () => number,
  ) => number | null;
}

export const DEFAULT_RETRY: Readonly<RetrySettings> = Object.freeze({
  replyTimeoutMs: REPLY_TIMEOUT_SECONDS * 1000,
  reconnectBaseMs: 1000,
  reconnectCapMs: 30_000,
  retryDelaySeconds,
});

/**
 * "Equal jitter": half the exponential delay fixed, half random. A whole fleet that loses
 * the broker at once thus spreads its reconnects over the window instead of stampeding,
 * while each device still waits at least half the backoff.
 */
export function reconnectDelayMs(failures: number, s: RetrySettings, random: () => number): number {
  const exp = Math.min(s.reconnectCapMs, s.reconnectBaseMs * 2 ** Math.min(failures, 30));
  return Math.round(exp / 2 + (exp / 2) * random());
}
