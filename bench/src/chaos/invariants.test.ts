import type { DeviceRegistration } from "@devreg/kube";
import { describe, expect, it } from "vitest";
import { parseDecisionLog } from "./decision-log.ts";
import { checkInvariants, digestChanges, registrationDigest } from "./invariants.ts";

const reg = (name: string, publicKey: string, phase?: string, deviceUUID?: string): DeviceRegistration => ({
  apiVersion: "devices.example.com/v1alpha1",
  kind: "DeviceRegistration",
  metadata: { name },
  spec: { publicKey } as DeviceRegistration["spec"],
  ...(phase ? { status: { phase: phase as "Approved", deviceUUID } } : {}),
});
const line = (identity: string, registration: string, deviceUUID: string, time = 1) =>
  JSON.stringify({ level: 30, time, identity, msg: "decision", registration, phase: "Approved", deviceUUID });

describe("fault-suite invariants", () => {
  const devices = [
    { deviceId: "a", publicKey: "KA", phase: "enrolled", deviceUUID: "u1" },
    { deviceId: "b", publicKey: "KB", phase: "enrolled", deviceUUID: "u2" },
  ];

  it("hold for a clean run", () => {
    const decisions = parseDecisionLog(`${line("op-a", "dev-a", "u1")}\n${line("op-b", "dev-b", "u2")}\nnot json\n`);
    expect(decisions).toHaveLength(2);
    const registrations = [reg("dev-a", "KA", "Approved", "u1"), reg("dev-b", "KB", "Approved", "u2")];
    expect(checkInvariants({ devices, registrations, decisions })).toEqual([]);
  });

  it("catch a lost device, a UUID mismatch, a UUID held twice and leftovers", () => {
    const registrations = [reg("dev-a", "KA", "Approved", "u9"), reg("dev-x", "KX", "Approved", "u9"), reg("dev-p", "KP")];
    const kinds = checkInvariants({ devices, registrations, decisions: [] }).map((v) => v.invariant);
    expect(kinds).toEqual(
      expect.arrayContaining(["one-registration-per-device", "device-uuid-matches-apiserver", "uuid-held-once", "settled"]),
    );
  });

  it("catch a UUID minted twice across replicas, a killed replica's log included", () => {
    // op-a approved dev-a with u1 and was SIGKILLed; op-b approved it again with u3.
    const decisions = parseDecisionLog([line("op-a", "dev-a", "u1"), line("op-b", "dev-a", "u3")].join("\n"));
    const registrations = [reg("dev-a", "KA", "Approved", "u1"), reg("dev-b", "KB", "Approved", "u2")];
    const v = checkInvariants({ devices, registrations, decisions });
    expect(v).toEqual([{ invariant: "uuid-minted-once", detail: "dev-a: approved with u1, u3" }]);
  });

  it("a re-run digest shows any change", () => {
    const before = registrationDigest([reg("dev-a", "KA", "Approved", "u1")]);
    expect(digestChanges(before, registrationDigest([reg("dev-a", "KA", "Approved", "u1")]))).toEqual([]);
    expect(digestChanges(before, registrationDigest([reg("dev-a", "KA", "Approved", "u2")]))).toEqual([
      "dev-a: Approved u1 -> Approved u2",
    ]);
  });
});
