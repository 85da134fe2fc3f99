import { describe, expect, it } from "vitest";
import { hasObserved, isDecided, phaseOf, readableReason, registrationOutcome } from "./status.ts";
import type { DeviceRegistration, DeviceRegistrationStatus } from "./types.ts";

const UUID = "6f1c8f7e-9d1a-4c55-8a0e-3a1b2c3d4e5f";

function registration(
  status?: DeviceRegistrationStatus,
  spec: { deactivate?: boolean } = {},
  generation = 1,
) {
  return {
    apiVersion: "devices.example.com/v1alpha1",
    kind: "DeviceRegistration",
    metadata: { name: "dev-x", generation },
    spec: { publicKey: "k", ...spec },
    status,
  } as DeviceRegistration;
}

describe("registrationOutcome", () => {
  const cases: Array<[string, DeviceRegistration, ReturnType<typeof registrationOutcome>]> = [
    ["no status: pending", registration(), { status: "pending", reason: "Pending" }],
    [
      "Pending keeps its reason",
      registration({ phase: "Pending", reason: "AwaitingApproval" }),
      { status: "pending", reason: "AwaitingApproval" },
    ],
    [
      "Approved with its UUID",
      registration({ phase: "Approved", deviceUUID: UUID }),
      { status: "approved", deviceUUID: UUID },
    ],
    [
      "Approved without a UUID stays pending",
      registration({ phase: "Approved" }),
      { status: "pending", reason: "Pending" },
    ],
    [
      "Approved with a malformed UUID stays pending",
      registration({ phase: "Approved", deviceUUID: "nope", reason: "PairingWindowOpen" }),
      { status: "pending", reason: "PairingWindowOpen" },
    ],
    [
      "Rejected with its reason",
      registration({ phase: "Rejected", reason: "PairingDisabled" }),
      { status: "rejected", reason: "PairingDisabled" },
    ],
    [
      "Rejected without a reason",
      registration({ phase: "Rejected" }),
      { status: "rejected", reason: "Rejected" },
    ],
    [
      "Rejected with an unreadable reason",
      registration({ phase: "Rejected", reason: "not camel case!" }),
      { status: "rejected", reason: "Rejected" },
    ],
    [
      "Deactivated keeps the UUID",
      registration({ phase: "Deactivated", deviceUUID: UUID, reason: "DeactivatedByAdmin" }),
      { status: "deactivated", deviceUUID: UUID, reason: "DeactivatedByAdmin" },
    ],
    [
      "Deactivated without a UUID is a rejection [PROTO-26]",
      registration({ phase: "Deactivated" }),
      { status: "rejected", reason: "Deactivated" },
    ],
    [
      "spec.deactivate on an approved device is final before the operator writes it",
      registration({ phase: "Approved", deviceUUID: UUID, observedGeneration: 1 }, { deactivate: true }, 2),
      { status: "deactivated", deviceUUID: UUID, reason: "Deactivated" },
    ],
    [
      "spec.deactivate on a device without a UUID waits for the operator",
      registration({ phase: "Pending" }, { deactivate: true }, 2),
      { status: "pending", reason: "Pending" },
    ],
    [
      "a reactivation not yet processed waits for the operator",
      registration(
        { phase: "Deactivated", deviceUUID: UUID, observedGeneration: 2 },
        { deactivate: false },
        3,
      ),
      { status: "pending", reason: "Pending" },
    ],
    [
      "a processed reactivation reads as Deactivated until the operator writes Approved",
      registration({ phase: "Deactivated", deviceUUID: UUID, observedGeneration: 3 }, {}, 3),
      { status: "deactivated", deviceUUID: UUID, reason: "Deactivated" },
    ],
  ];
  it.each(cases)("%s", (_what, reg, want) => {
    expect(registrationOutcome(reg)).toEqual(want);
  });
});

describe("phase predicates", () => {
  it("phaseOf reads a missing status as Pending", () => {
    expect(phaseOf(registration())).toBe("Pending");
    expect(phaseOf(registration({ phase: "Rejected" }))).toBe("Rejected");
  });
  it("isDecided is true for Approved, Rejected and Deactivated only", () => {
    expect(
      [undefined, "Pending", "Approved", "Rejected", "Deactivated"].map((p) => isDecided(p as never)),
    ).toEqual([false, false, true, true, true]);
  });
  it("hasObserved compares status.observedGeneration with a generation; none observed yet is false", () => {
    expect(hasObserved(registration(), 0)).toBe(false);
    expect(hasObserved(registration({ observedGeneration: 2 }), 2)).toBe(true);
    expect(hasObserved(registration({ observedGeneration: 2 }), 3)).toBe(false);
  });
  it("readableReason keeps one CamelCase word of at most 64 characters", () => {
    expect(readableReason("DeniedByAdmin", "Rejected")).toBe("DeniedByAdmin");
    expect(readableReason(`A${"b".repeat(63)}`, "Rejected")).toBe(`A${"b".repeat(63)}`);
    expect(readableReason(`A${"b".repeat(64)}`, "Rejected")).toBe("Rejected");
    expect(readableReason("lowerCase", "Rejected")).toBe("Rejected");
    expect(readableReason(undefined, "Pending")).toBe("Pending");
  });
});
