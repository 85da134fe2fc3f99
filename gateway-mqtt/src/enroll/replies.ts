import type { EnrollReply, ReplyStatus } from "@devreg/protocol";
import { isKubeError } from "@devreg/kube";
import type { Decision } from "./decision.ts";

/** A reply before the gateway stamps version and time and signs it. */
export type ReplyDraft = Omit<EnrollReply, "version" | "timestamp">;

/** Why a request was answered "busy"; also the reply's reason. */
export type BusyReason = "GatewayBusy" | "RateLimited" | "ApiThrottled" | "ApiUnavailable" | "ShuttingDown";

export interface Target {
  requestId: string;
  deviceId: string;
}

export function decidedReply(t: Target, d: Decision): ReplyDraft {
  switch (d.status) {
    case "approved":
      return { ...t, status: "approved", deviceUUID: d.deviceUUID };
    case "deactivated":
      return { ...t, status: "deactivated", deviceUUID: d.deviceUUID, reason: d.reason };
    case "rejected":
      return { ...t, status: "rejected", reason: d.reason };
  }
}

export function pendingReply(t: Target, retryAfterSeconds: number, reason = "AwaitingDecision"): ReplyDraft {
  return { ...t, status: "pending", reason, retryAfterSeconds };
}

export function busyReply(t: Target, reason: BusyReason, retryAfterSeconds: number): ReplyDraft {
  return { ...t, status: "busy", reason, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) };
}

export function errorReply(t: Target, reason: string, message?: string): ReplyDraft {
  return message === undefined ? { ...t, status: "error", reason } : { ...t, status: "error", reason, message };
}

/** Retry-After with up to +50 % jitter, so devices told "busy" together do not return together. */
export function jittered(baseSeconds: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(baseSeconds * (1 + random() / 2)));
}

/**
 * Busy policy for a failed Kubernetes write: 429 and apiserver outages become "busy,
 * retry after" (the apiserver's own Retry-After wins when larger); anything else is an
 * internal error, answered as such — never silence.
 */
export function replyForKubeError(t: Target, err: unknown, busyRetryAfterSeconds: number): ReplyDraft {
  if (isKubeError(err, "E_KUBE_THROTTLED")) {
    return busyReply(t, "ApiThrottled", Math.max(err.retryAfterSeconds ?? 0, jittered(busyRetryAfterSeconds)));
  }
  if (isKubeError(err, "E_KUBE_UNAVAILABLE") || isKubeError(err, "E_KUBE_TIMEOUT")) {
    return busyReply(t, "ApiUnavailable", Math.max(err.retryAfterSeconds ?? 0, jittered(busyRetryAfterSeconds)));
  }
  return errorReply(t, "Internal", "the gateway could not record the registration");
}

/** Label for devreg_gateway_enrollments_total{outcome}. */
export function outcomeOf(reply: { status: ReplyStatus }): ReplyStatus {
  return reply.status;
}
