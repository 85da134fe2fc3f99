import type { DeviceRegistration, Phase } from "./types.ts";

/**
 * What a registration's status means (operator/README.md), read in one place for the operator,
 * the gateway and the CLI: no status or phase Pending is undecided; Approved carries
 * status.deviceUUID; Rejected carries status.reason; Deactivated keeps the UUID.
 */
export type RegistrationOutcome =
  | { status: "pending"; reason: string }
  | { status: "approved"; deviceUUID: string }
  | { status: "rejected"; reason: string }
  | { status: "deactivated"; deviceUUID: string; reason: string };

const DECIDED: ReadonlySet<Phase | undefined> = new Set<Phase>(["Approved", "Rejected", "Deactivated"]);

/** A reason is one CamelCase ASCII word of at most 64 characters (the operator's Reason values; [PROTO-25]). */
const REASON = /^[A-Z][A-Za-z0-9]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for the phases the operator writes as a decision (Pending and no phase are not). */
export function isDecided(phase: Phase | undefined): boolean {
  return DECIDED.has(phase);
}

/** The recorded phase; a registration the operator has not touched yet reads as Pending. */
export function phaseOf(reg: DeviceRegistration): Phase {
  return reg.status?.phase ?? "Pending";
}

/** Has the operator acted on `generation` (or a later one) of this registration? */
export function hasObserved(reg: DeviceRegistration, generation: number): boolean {
  return (reg.status?.observedGeneration ?? -1) >= generation;
}

/** `reason` if it is a well-formed reason, else `fallback` (status text is anyone's to write). */
export function readableReason(reason: string | undefined, fallback: string): string {
  return reason !== undefined && REASON.test(reason) ? reason : fallback;
}

/**
 * The decision a device is owed for `reg`. Stricter than the phase alone: an admin's
 * spec.deactivate is final even before the operator has written it, a reactivation waits for
 * the operator, and Approved without a valid UUID (an operator bug) stays pending rather than lie.
 */
export function registrationOutcome(reg: DeviceRegistration): RegistrationOutcome {
  const st = reg.status;
  const uuid = st?.deviceUUID !== undefined && UUID.test(st.deviceUUID) ? st.deviceUUID : undefined;
  const stale =
    st?.observedGeneration !== undefined && st.observedGeneration < (reg.metadata.generation ?? 0);
  const pending: RegistrationOutcome = { status: "pending", reason: readableReason(st?.reason, "Pending") };
  // Reactivation requested (spec.deactivate cleared) but not yet processed: wait for the operator.
  if (st?.phase === "Deactivated" && reg.spec?.deactivate !== true && stale) return pending;
  if (st?.phase === "Deactivated" || (reg.spec?.deactivate === true && uuid !== undefined)) {
    const reason = readableReason(st?.reason, "Deactivated");
    // [PROTO-26] a deactivated device is told its UUID; without one (never approved) it is a rejection.
    return uuid !== undefined
      ? { status: "deactivated", deviceUUID: uuid, reason }
      : { status: "rejected", reason };
  }
  if (st?.phase === "Approved")
    return uuid !== undefined ? { status: "approved", deviceUUID: uuid } : pending;
  if (st?.phase === "Rejected") return { status: "rejected", reason: readableReason(st.reason, "Rejected") };
  return pending;
}
