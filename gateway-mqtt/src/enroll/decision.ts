import { type DeviceRegistration, type RegistrationOutcome, readableReason, registrationOutcome } from "@devreg/kube";

/**
 * What the operator decided for a registration, as the device is told it. The reading of the
 * status (operator/README.md) is kube's registrationOutcome, shared with the operator and the CLI.
 */
export type Decision = Exclude<RegistrationOutcome, { status: "pending" }>;

/** The decision recorded on `reg`, or undefined while it is undecided. */
export function decisionOf(reg: DeviceRegistration): Decision | undefined {
  const outcome = registrationOutcome(reg);
  return outcome.status === "pending" ? undefined : outcome;
}

/** The reason an undecided registration shows, for the pending reply [PROTO-27: "Pending"]. */
export function pendingReason(reg: DeviceRegistration | undefined): string {
  return readableReason(reg?.status?.reason, "Pending");
}
