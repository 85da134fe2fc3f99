import type { ReplyStatus } from "@devreg/protocol";

/**
 * HTTP status for a reply to POST /enroll (README "HTTP"):
 *   approved 200 · pending 202 (recorded, decision not yet made: retry) · rejected and
 *   deactivated 403 · busy 429 + Retry-After · error 400, except TooLarge 413 and
 *   Internal 500.
 */
export function httpStatusForReply(reply: { status: ReplyStatus; reason?: string }): number {
  switch (reply.status) {
    case "approved":
      return 200;
    case "pending":
      return 202;
    case "rejected":
    case "deactivated":
      return 403;
    case "busy":
      return 429;
    case "error":
      if (reply.reason === "Internal") return 500;
      if (reply.reason === "TooLarge") return 413;
      return 400;
  }
}

/** Statuses whose response carries a Retry-After header. */
export function retryAfterHeader(reply: {
  status: ReplyStatus;
  retryAfterSeconds?: number;
}): string | undefined {
  if ((reply.status === "busy" || reply.status === "pending") && reply.retryAfterSeconds !== undefined) {
    return String(reply.retryAfterSeconds);
  }
  return undefined;
}
