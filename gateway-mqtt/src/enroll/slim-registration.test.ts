import { type DeviceRegistration, LABEL_DEVICE_ID, LABEL_GATEWAY, registrationOutcome } from "@devreg/kube";
import { describe, expect, it } from "vitest";
import { slimRegistration } from "./slim-registration.ts";

const full = (phase: "Approved" | "Deactivated" | "Rejected", deactivate?: boolean): DeviceRegistration => ({
  apiVersion: "devices.example.com/v1alpha1",
  kind: "DeviceRegistration",
  metadata: {
    name: "dev-abc",
    namespace: "fleet",
    uid: "u-1",
    resourceVersion: "42",
    generation: 2,
    creationTimestamp: "2026-11-29T00:00:00Z",
    labels: { [LABEL_GATEWAY]: "gw-1", [LABEL_DEVICE_ID]: "abc" },
    annotations: { note: "x".repeat(500) },
  },
  spec: {
    publicKey: "pk",
    deviceId: "abc",
    model: "m",
    firmwareVersion: "1.0",
    ...(deactivate ? { deactivate } : {}),
  },
  status: {
    phase,
    reason: phase === "Rejected" ? "PairingDisabled" : "Deactivated",
    message: "a long human message",
    deviceUUID: "0b7e3c39-8d5a-4f51-9a8e-6a3a0f7c2d11",
    decidedAt: "2026-11-29T00:00:01Z",
    decidedBy: "op-0",
    observedGeneration: 2,
    conditions: [
      {
        type: "Approved",
        status: "True",
        reason: "X",
        message: "m",
        lastTransitionTime: "t",
        observedGeneration: 2,
      },
    ],
  },
});

describe("slimRegistration", () => {
  it("keeps what the gateway reads and drops the rest", () => {
    const slim = slimRegistration(full("Approved"));
    expect(slim).toEqual({
      apiVersion: "devices.example.com/v1alpha1",
      kind: "DeviceRegistration",
      metadata: {
        name: "dev-abc",
        namespace: "fleet",
        uid: "u-1",
        resourceVersion: "42",
        generation: 2,
        labels: { [LABEL_GATEWAY]: "gw-1", [LABEL_DEVICE_ID]: "abc" },
      },
      spec: { publicKey: "pk", deviceId: "abc" },
      status: {
        phase: "Approved",
        reason: "Deactivated",
        deviceUUID: "0b7e3c39-8d5a-4f51-9a8e-6a3a0f7c2d11",
        observedGeneration: 2,
      },
    });
  });

  it.each([
    ["Approved", undefined],
    ["Deactivated", true],
    ["Rejected", undefined],
    ["Approved", true],
  ] as const)(
    "answers a device exactly as the full object would (%s, deactivate %s)",
    (phase, deactivate) => {
      const reg = full(phase, deactivate);
      expect(registrationOutcome(slimRegistration(reg))).toEqual(registrationOutcome(reg));
      const pending = { ...reg, status: undefined };
      expect(registrationOutcome(slimRegistration(pending))).toEqual(registrationOutcome(pending));
    },
  );
});
