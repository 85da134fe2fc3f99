import {
  createGatewaySigner,
  generateDeviceKeyPair,
  deviceIdFromPublicKey,
  verifyEnrollReply,
} from "@devreg/protocol";
import { describe, expect, it } from "vitest";
import { deactivationPush, deviceIdOf } from "./deactivation.ts";

describe("deactivation push", () => {
  it("is a reply every device accepts, whatever request it is waiting on", () => {
    const signer = createGatewaySigner();
    const deviceId = deviceIdFromPublicKey(generateDeviceKeyPair().publicKey);
    const uuid = "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b";
    const push = deactivationPush(signer, deviceId, uuid, "DeactivatedByAdmin", 1_900_000_000);
    const v = verifyEnrollReply(push.frame, signer.publicKey, { deviceId, requestId: "some-request" });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.value.requestId).toBe("");
    expect(v.value.deviceUUID).toBe(uuid);
    // "deactivated" when the codec allows an empty requestId on it, else error/Deactivated.
    expect(
      v.value.status === "deactivated" || (v.value.status === "error" && v.value.reason === "Deactivated"),
    ).toBe(true);
  });

  it("finds the device id in spec, label or name", () => {
    const id = "0123456789abcdef0123456789abcdef";
    const base = { apiVersion: "v", kind: "k", spec: { publicKey: "k" } };
    expect(deviceIdOf({ ...base, metadata: { name: "x" }, spec: { publicKey: "k", deviceId: id } })).toBe(id);
    expect(
      deviceIdOf({ ...base, metadata: { name: "x", labels: { "devices.example.com/device-id": id } } }),
    ).toBe(id);
    expect(deviceIdOf({ ...base, metadata: { name: `dev-${id}` } })).toBe(id);
    expect(deviceIdOf({ ...base, metadata: { name: "admin-made" } })).toBeNull();
  });
});
