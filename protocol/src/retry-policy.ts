import type { EnrollReply } from "./types.ts";

/** [PROTO-31] How long a device waits for a reply before it counts as a timeout. */
export const REPLY_TIMEOUT_SECONDS = 30;
/** Backoff after a timeout or error: 5 s doubling per attempt, capped at 300 s. */
const BACKOFF_BASE_SECONDS = 5;
const BACKOFF_CAP_SECONDS = 300;
/** Wait after "rejected" without retryAfterSeconds: pairing may be switched on later. */
const REJECTED_RETRY_SECONDS = 600;

/**
 * [PROTO-31] Seconds until the next attempt (a new request: fresh requestId and nonce),
 * or null when the device must stop. `attempt` counts from 0; `random` returns [0, 1)
 * and adds up to 10 % jitter so a fleet restarted together does not retry in lockstep.
 */
export function retryDelaySeconds(
  outcome: EnrollReply | "timeout",
  attempt: number,
  random: () => number = Math.random,
): number | null {
  const jitter = (s: number) => Math.ceil(s * (1 + 0.1 * random()));
  const backoff = () =>
    jitter(Math.min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** Math.max(0, attempt)));
  if (outcome === "timeout") return backoff();
  switch (outcome.status) {
    case "approved":
    case "deactivated":
      return null;
    case "pending":
    case "busy":
      return jitter(outcome.retryAfterSeconds ?? BACKOFF_BASE_SECONDS);
    case "rejected":
      return jitter(outcome.retryAfterSeconds ?? REJECTED_RETRY_SECONDS);
    case "error":
      // [PROTO-32] after correcting its clock from the reply, the device retries at once.
      if (outcome.reason === "ClockSkew" && attempt === 0) return 0;
      return outcome.retryAfterSeconds !== undefined ? jitter(outcome.retryAfterSeconds) : backoff();
  }
}
