import type { DeviceRegistration } from "@devreg/kube";

/**
 * What the operator decided for a registration, read from its status (operator/README.md):
 * no status or phase Pending is undecided; Approved carries status.deviceUUID; Rejected
 * carries status.reason; Deactivated keeps the UUID.
 */
export type Decision =
  | { status: "approved"; deviceUUID: string }
  | { status: "rejected"; reason: string }
  | { status: "deactivated"; deviceUUID: string; reason: string };

/** [PROTO-25] Reply reasons are CamelCase ASCII, at most 64 characters. */
const REASON = /^[A-Z][A-Za-z0-9]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function safeReason(reason: string | undefined, fallback: string): string {
  return reason !== undefined && REASON.test(reason) ? reason : fallback;
}

/** The decision recorded on `reg`, or undefined while it is undecided. */
export function decisionOf(reg: DeviceRegistration): Decision | undefined {
  const st = reg.status;
  const uuid = st?.deviceUUID !== undefined && UUID.test(st.deviceUUID) ? st.deviceUUID : undefined;
  // An admin's spec.deactivate is final even before the operator has written the phase.
  const stale =
    st?.observedGeneration !== undefined && st.observedGeneration < (reg.metadata.generation ?? 0);
  // Reactivation requested (spec.deactivate cleared) but not yet processed: wait for the operator.
  if (st?.phase === "Deactivated" && reg.spec?.deactivate !== true && stale) return undefined;
  if (st?.phase === "Deactivated" || (reg.spec?.deactivate === true && uuid !== undefined)) {
    // [PROTO-26] a deactivated reply needs the UUID; without one (never approved) it is a rejection.
    return uuid !== undefined
      ? { status: "deactivated", deviceUUID: uuid, reason: safeReason(st?.reason, "Deactivated") }
      : { status: "rejected", reason: safeReason(st?.reason, "Deactivated") };
  }
  if (st?.phase === "Approved") {
    // Approved without a valid UUID would be an operator bug; keep waiting rather than lie.
    return uuid !== undefined ? { status: "approved", deviceUUID: uuid } : undefined;
  }
  if (st?.phase === "Rejected") return { status: "rejected", reason: safeReason(st.reason, "Rejected") };
  return undefined;
}

/** The reason an undecided registration shows, for the pending reply [PROTO-27: "Pending"]. */
export function pendingReason(reg: DeviceRegistration | undefined): string {
  return safeReason(reg?.status?.reason, "Pending");
}
