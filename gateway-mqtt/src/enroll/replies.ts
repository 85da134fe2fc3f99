import { isKubeError } from "@devreg/kube";
import type { EnrollReply } from "@devreg/protocol";
import type { Decision } from "./decision.ts";

/** A reply before the gateway stamps version and time and signs it. */
export type ReplyDraft = Omit<EnrollReply, "version" | "timestamp">;

/**
 * Why a request was answered "busy". The reply's reason is always the SPEC's "Busy"
 * [PROTO-27]; the cause goes into `message`, the logs and the metrics.
 */
export type BusyCause =
  | "GatewayBusy"
  | "RateLimited"
  | "ApiThrottled"
  | "ApiUnavailable"
  | "ShuttingDown"
  | "ReplayCacheFull"
  | "ReplayAddressFull"
  | "QuotaExceeded";

const BUSY_MESSAGES: Record<BusyCause, string> = {
  GatewayBusy: "gateway busy: too many registrations in progress",
  RateLimited: "gateway busy: request rate limit reached",
  ApiThrottled: "gateway busy: Kubernetes API is throttling",
  ApiUnavailable: "gateway busy: Kubernetes API unavailable",
  ShuttingDown: "gateway busy: shutting down",
  ReplayCacheFull: "gateway busy: replay memory full",
  ReplayAddressFull: "gateway busy: this address's share of the replay memory is full",
  QuotaExceeded: "gateway busy: the registry is full (ResourceQuota); retry later",
};

export interface Target {
  requestId: string;
  deviceId: string;
}

/**
 * [PROTO-26] [PROTO-27] The reply for a decision. `alreadyEnrolled`: the registration was
 * approved before this request arrived (a re-enroll, SPEC §14.4).
 */
export function decidedReply(t: Target, d: Decision, alreadyEnrolled = false): ReplyDraft {
  switch (d.status) {
    case "approved":
      return alreadyEnrolled
        ? { ...t, status: "approved", deviceUUID: d.deviceUUID, reason: "AlreadyEnrolled" }
        : { ...t, status: "approved", deviceUUID: d.deviceUUID };
    case "deactivated":
      return { ...t, status: "deactivated", deviceUUID: d.deviceUUID, reason: "Deactivated" };
    case "rejected":
      return { ...t, status: "rejected", reason: d.reason };
  }
}

export function pendingReply(t: Target, retryAfterSeconds: number, reason = "Pending"): ReplyDraft {
  return { ...t, status: "pending", reason, retryAfterSeconds };
}

export function busyReply(t: Target, cause: BusyCause, retryAfterSeconds: number): ReplyDraft {
  return {
    ...t,
    status: "busy",
    reason: "Busy",
    message: BUSY_MESSAGES[cause],
    retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)),
  };
}

export function errorReply(t: Target, reason: string, message?: string): ReplyDraft {
  return message === undefined
    ? { ...t, status: "error", reason }
    : { ...t, status: "error", reason, message };
}

/** Retry-After with up to +50 % jitter, so devices told "busy" together do not return together. */
export function jittered(baseSeconds: number, random: () => number = Math.random): number {
  return Math.max(1, Math.round(baseSeconds * (1 + random() / 2)));
}

/**
 * Busy policy for a failed Kubernetes write: 429 and apiserver outages become "busy,
 * retry after" (the apiserver's own Retry-After wins when larger); a registration the
 * apiserver refuses as invalid is InvalidSpec [PROTO-27]; anything else is an Internal
 * error reply — never silence.
 */
export function replyForKubeError(t: Target, err: unknown, busyRetryAfterSeconds: number): ReplyDraft {
  if (isKubeError(err, "E_KUBE_THROTTLED")) {
    return busyReply(
      t,
      "ApiThrottled",
      Math.max(err.retryAfterSeconds ?? 0, jittered(busyRetryAfterSeconds)),
    );
  }
  if (isKubeError(err, "E_KUBE_UNAVAILABLE") || isKubeError(err, "E_KUBE_TIMEOUT")) {
    return busyReply(
      t,
      "ApiUnavailable",
      Math.max(err.retryAfterSeconds ?? 0, jittered(busyRetryAfterSeconds)),
    );
  }
  // A ResourceQuota on deviceregistrations refused the create (deploy/resourcequota.yaml): the
  // registry is full until the operator's cleanup frees room. Not an error of the device's.
  if (isKubeError(err, "E_KUBE_FORBIDDEN") && /exceeded quota/i.test(err.message)) {
    return busyReply(t, "QuotaExceeded", Math.max(60, jittered(busyRetryAfterSeconds)));
  }
  if (isKubeError(err, "E_KUBE_INVALID")) {
    return errorReply(
      t,
      "InvalidSpec",
      "Kubernetes refused the registration built from the request's metadata",
    );
  }
  return errorReply(t, "Internal", "the gateway could not record the registration");
}
