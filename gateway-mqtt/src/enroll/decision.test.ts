import type { DeviceRegistration } from "@devreg/kube";
import { describe, expect, it } from "vitest";
import { decisionOf, pendingReason } from "./decision.ts";

const UUID = "6f1c8f7e-9d1a-4c55-8a0e-3a1b2c3d4e5f";
const reg = (
  status?: DeviceRegistration["status"],
  spec: Partial<DeviceRegistration["spec"]> = {},
  generation = 1,
) =>
  ({
    apiVersion: "devices.example.com/v1alpha1",
    kind: "DeviceRegistration",
    metadata: { name: "dev-x", generation },
    spec: { publicKey: "k", ...spec },
    status,
  }) as DeviceRegistration;

describe("decisionOf", () => {
  it("is undecided without status or while Pending", () => {
    expect(decisionOf(reg())).toBeUndefined();
    expect(decisionOf(reg({ phase: "Pending", reason: "AwaitingPairing" }))).toBeUndefined();
    expect(pendingReason(reg({ phase: "Pending", reason: "AwaitingPairing" }))).toBe("AwaitingPairing");
    expect(pendingReason(undefined)).toBe("Pending");
  });
  it("reads Approved with its UUID, and waits on an Approved without a valid one", () => {
    expect(decisionOf(reg({ phase: "Approved", deviceUUID: UUID }))).toEqual({
      status: "approved",
      deviceUUID: UUID,
    });
    expect(decisionOf(reg({ phase: "Approved" }))).toBeUndefined();
    expect(decisionOf(reg({ phase: "Approved", deviceUUID: "nope" }))).toBeUndefined();
  });
  it("reads Rejected with a CamelCase reason, else a safe default", () => {
    expect(decisionOf(reg({ phase: "Rejected", reason: "PairingDisabled" }))).toEqual({
      status: "rejected",
      reason: "PairingDisabled",
    });
    expect(decisionOf(reg({ phase: "Rejected", reason: "not camel case!" }))).toEqual({
      status: "rejected",
      reason: "Rejected",
    });
    expect(decisionOf(reg({ phase: "Rejected" }))).toEqual({ status: "rejected", reason: "Rejected" });
  });
  it("reads Deactivated with the kept UUID; without one it is a rejection", () => {
    expect(decisionOf(reg({ phase: "Deactivated", deviceUUID: UUID, reason: "DeactivatedByAdmin" }))).toEqual(
      {
        status: "deactivated",
        deviceUUID: UUID,
        reason: "DeactivatedByAdmin",
      },
    );
    expect(decisionOf(reg({ phase: "Deactivated" }))).toEqual({ status: "rejected", reason: "Deactivated" });
  });
  it("treats spec.deactivate on an approved device as deactivated before the operator catches up", () => {
    expect(
      decisionOf(
        reg({ phase: "Approved", deviceUUID: UUID, observedGeneration: 1 }, { deactivate: true }, 2),
      ),
    ).toMatchObject({
      status: "deactivated",
      deviceUUID: UUID,
    });
  });
  it("waits for the operator when a reactivation is requested but not processed", () => {
    const r = reg(
      { phase: "Deactivated", deviceUUID: UUID, observedGeneration: 2 },
      { deactivate: false },
      3,
    );
    expect(decisionOf(r)).toBeUndefined();
  });
});
